package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pongscan/pongscan/internal/supervise"
)

// dupWindow is how close a repeat of the first signal must come to be the
// same delivery: far below a person's second Ctrl-C.
const dupWindow = 100 * time.Millisecond

// interruption is the cause of a scan's context ending on a signal.
type interruption struct{ sig syscall.Signal }

func (i interruption) Error() string { return "interrupted by " + signalName(i.sig) }

// code is the conventional exit status of a process ended by the signal:
// 128 plus its number (130 for SIGINT, 143 for SIGTERM).
func (i interruption) code() ExitCode { return ExitCode(128 + int(i.sig)) }

// signalName names a signal for people.
func signalName(sig syscall.Signal) string { return supervise.SignalName(sig) }

// graceful is set by a command that stops on its context's cancel and
// reports what it has (scan); any other exits on the first signal.
var graceful atomic.Bool

// temps are the temporary outputs to remove when a signal ends the
// process at once (exitNow): a report renamed into place once complete
// must not leave its temporary file behind.
var (
	tempsMu sync.Mutex
	temps   = map[string]bool{}
)

func addTemp(p string)    { tempsMu.Lock(); temps[p] = true; tempsMu.Unlock() }
func removeTemp(p string) { tempsMu.Lock(); delete(temps, p); tempsMu.Unlock() }

// exitNow ends the process with sig's status, its temporary outputs
// removed.
func exitNow(sig syscall.Signal) {
	tempsMu.Lock()
	for p := range temps {
		os.Remove(p)
	}
	os.Exit(int(interruption{sig}.code()))
}

// withSignals returns a context that the first SIGINT or SIGTERM cancels,
// with an interruption as its cause: the scan stops reading and reports
// what it read. A second signal exits at once with the signal's status.
// stop restores the default handling.
//
// The same signal again within dupWindow is the same delivery, not a
// second one: a signal sent to a whole process group (kill -TERM -PGID, a
// batch scheduler's cancel) reaches the worker both directly and through
// its supervisor, which forwards SIGTERM.
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
			if !graceful.Load() {
				// Not a scan: nothing to report; it may be blocked
				// where no context reaches (merge opening a FIFO).
				exitNow(first)
			}
		case <-quit:
			return
		}
		at := time.Now()
		for {
			select {
			case s := <-ch:
				sig := s.(syscall.Signal)
				if sig == first && time.Since(at) < dupWindow {
					continue
				}
				fmt.Fprintf(stderr, "\npongscan: %s again: exiting without a report\n", signalName(sig))
				exitNow(sig)
			case <-quit:
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(quit)
		cancel(nil)
	}
}
