package detect

import (
	"testing"
	"time"
)

func TestStillRunning(t *testing.T) {
	const s = int64(time.Second)
	idle := 2 * time.Second
	tests := []struct {
		name     string
		start    int64
		end      int64
		packets  uint64
		slowest  float64 // ms
		inputEnd int64
		want     bool
	}{
		{"last packet is the input's last", 0, 10 * s, 5001, 1, 10 * s, true},
		{"500/s, silent for 0.2 s: under the 0.25 s floor", 0, 10 * s, 5001, 1, 10*s + s/5, true},
		{"500/s, silent for 1 s: hundreds of beats missed", 0, 10 * s, 5001, 1, 11 * s, false},
		{"10/s, silent for 0.9 s: under ten periods", 0, 10 * s, 101, 120 * 1, 10*s + 9*s/10, true},
		{"10/s, silent for 1.1 s: over ten periods", 0, 10 * s, 101, 120, 11*s + s/10, false},
		{"a slow reaction of 400 ms seen: 1.5 s of silence is under four of them", 0, 10 * s, 1001, 400, 11*s + s/2, true},
		{"2/s, silent for 1.9 s: under --idle and ten periods", 0, 50 * s, 101, 0, 51*s + 9*s/10, true},
		{"2/s, silent for --idle: ended", 0, 50 * s, 101, 0, 52 * s, false},
		{"one packet: the floor alone", 5 * s, 5 * s, 1, 0, 5*s + s/5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StillRunning(tt.start, tt.end, tt.packets, tt.slowest, tt.inputEnd, idle); got != tt.want {
				t.Errorf("StillRunning = %v, want %v", got, tt.want)
			}
		})
	}
}
