// Package cli holds pongscan's cobra commands. Each command parses and
// validates flags into an options struct and hands it to a run function;
// exit statuses are mapped in one place (ExitCode).
package cli
