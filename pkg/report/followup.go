package report

// printFollowUp prints what an analyst does next with a loop: open it in
// Wireshark, block it, and whether rate limiting would have stopped it.
func printFollowUp(w *errWriter, width int, l *Loop) {}
