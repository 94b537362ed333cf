package rrl

import (
	"unicode"
	"unicode/utf8"
)

// FNV-1a, 64 bits.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// NameKeys gives the keys a question name is counted under: full, the
// whole name, and zone, its last two labels, which stand in for the zone
// apex the replay cannot know (NSD keys NXDOMAIN, NODATA, errors and
// referrals by it). name is the name in presentation form, as
// dnsmessage.Name holds it (Data[:Length], e.g. "www.Example.uk."); it is
// read, not kept.
//
// The keys are 64-bit FNV-1a hashes of the name lower-cased as
// strings.ToLower does (Unicode case folding; a byte that is not UTF-8
// counts as U+FFFD), so names that differ only in case share their keys.
// 0 means no name: an empty name gives (0, 0), and no name hashes to 0.
// The zone is the name from after its second-to-last dot, not counting
// a trailing dot: "www.example.uk." gives "example.uk.", while "uk." and
// "." are their own zone. NameKeys allocates nothing.
func NameKeys(name []byte) (full, zone uint64) {
	if len(name) == 0 {
		return 0, 0
	}
	full = hashLower(name)
	start := 0
	dots := 0
	for i := len(name) - 2; i >= 0; i-- {
		if name[i] == '.' {
			dots++
			if dots == 2 {
				start = i + 1
				break
			}
		}
	}
	if start == 0 {
		return full, full
	}
	// A '.' is never part of a multi-byte UTF-8 sequence, so lowering
	// the suffix is the suffix of the lowered name.
	return full, hashLower(name[start:])
}

// hashLower is FNV-1a of strings.ToLower(string(b)), never 0.
func hashLower(b []byte) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			h = (h ^ uint64(c)) * fnvPrime
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		i += n
		var enc [utf8.UTFMax]byte
		m := utf8.EncodeRune(enc[:], unicode.ToLower(r))
		for _, c := range enc[:m] {
			h = (h ^ uint64(c)) * fnvPrime
		}
	}
	if h == 0 {
		h = 1
	}
	return h
}
