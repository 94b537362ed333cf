// Package supervise runs a command in a worker: a child process of the
// same binary, watched by its parent. When the Go runtime cannot get
// memory it prints "fatal error: out of memory" and a hundred lines of
// goroutine traces and exits 2, and no code in the process can catch
// it; the parent turns such a death of its worker, or a kill by the
// kernel's out-of-memory killer, into one line on stderr and
// ExitInternal. It forwards SIGINT, SIGTERM, SIGQUIT and SIGHUP to the
// worker whoever sent them (docs/supervision.md says why).
//
// Only Linux has a supervisor; elsewhere Run returns ok false and the
// caller runs the command itself.
package supervise

// ExitInternal is the status of a worker that failed in the runtime (the
// command's own exit-status table must give it the same meaning).
const ExitInternal = 3
