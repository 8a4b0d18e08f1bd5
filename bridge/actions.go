package bridge

import "github.com/yunhu-onebot/yunhu-onebot/onebot"

// registerActions adds every OneBot action to r. (Replaced by the action
// table.)
func (b *Bridge) registerActions(r *onebot.Router) {}
