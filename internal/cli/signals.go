package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// interruption is the cause of a scan's context ending on a signal.
type interruption struct{ sig syscall.Signal }

func (i interruption) Error() string { return "interrupted by " + signalName(i.sig) }

// code is the conventional exit status of a process ended by the signal:
// 128 plus its number (130 for SIGINT, 143 for SIGTERM).
func (i interruption) code() ExitCode { return ExitCode(128 + int(i.sig)) }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// withSignals returns a context that the first SIGINT or SIGTERM cancels,
// with an interruption as its cause: the scan stops reading and reports
// what it read. A second signal exits at once with the signal's status.
// stop restores the default handling.
func withSignals(parent context.Context, stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	quit := make(chan struct{})
	go func() {
		var first syscall.Signal
		select {
		case s := <-ch:
			first = s.(syscall.Signal)
			cancel(interruption{first})
		case <-quit:
			return
		}
		select {
		case s := <-ch:
			sig := s.(syscall.Signal)
			fmt.Fprintf(stderr, "\npongscan: %s again: exiting without a report\n", signalName(sig))
			os.Exit(int(interruption{sig}.code()))
		case <-quit:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(quit)
		cancel(nil)
	}
}
