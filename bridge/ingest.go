package bridge

import "context"

// receive runs the push socket until ctx is done. (Replaced by the
// ingest pipeline.)
func (b *Bridge) receive(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
