package benchgen

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestBytesUnchanged holds configs that set none of LoopInterval,
// LoopEvery and LoopShare to the bytes they wrote before those fields
// existed: the hashes were computed from commit 2afe030's benchgen (a git
// worktree of it, the same configs). gzip output is left out: it depends on
// the Go release's compress/flate, not on this package.
func TestBytesUnchanged(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Packets: 100000, Seed: 1}, "663dc577ebc6ba5ab12fddba023513627d868969d3bebc7a381d582d1118d710"},
		{Config{Packets: 50000, Seed: 7, Clients: 500, LoopPackets: 1000, Loops: 5}, "aedbf13103a27769dbfcaaa320552ad0274b796c6c06d3e8785b6c0a1b575bcc"},
		{Config{Packets: 30000, Seed: 3, Pcapng: true}, "089f14d57b22f061cb5a32367b6e05e39ff90ec8e498e60dce1e980a9f356fda"},
		{Config{Packets: 60000, Seed: 7, QPS: 2000, Clients: 2000, Loops: 2, LoopPackets: 3000}, "d8871eb666913f9214f94db9b92b185fe9f7cac0cae5eeb7dd7cdd315a93df1f"},
		{Config{Packets: 40000, Seed: 9, Loops: -1, IPv6Share: -1, Unanswered: -1}, "669e69e73ad0269c21dcec3ee293fd1bc6fe792a53c57deaf21d9638469cec80"},
	} {
		b, _ := write(t, c.cfg)
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != c.want {
			t.Errorf("%+v: sha256 %s, want %s (the bytes of old)", c.cfg, got, c.want)
		}
	}
}
