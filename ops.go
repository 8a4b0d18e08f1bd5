package main

import (
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/yunhu-onebot/yunhu-onebot/config"
)

// printConfigWarnings lists, for -check, what is valid but likely wrong;
// the exit status stays 0.
func printConfigWarnings(w io.Writer, cfg *config.Config) {
	for _, p := range cfg.Warnings {
		fmt.Fprintf(w, "warning: %v\n", p)
	}
}

// logConfigWarnings repeats them at every start, where journald keeps them.
func logConfigWarnings(log *zap.Logger, cfg *config.Config) {
	for _, p := range cfg.Warnings {
		log.Warn("configuration: " + p.Error())
	}
}
