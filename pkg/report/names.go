package report

import (
	"path/filepath"
	"strings"
)

// DisplayNames maps each input path to the shortest trailing part of it
// that no other input shares: the base name when it is unique
// ("cap.pcap"), more of the path when two inputs share one
// ("d1/cap.pcap", "d2/cap.pcap"). Packet references in the table use it.
func DisplayNames(inputs []Input) map[string]string {
	paths := make([]string, 0, len(inputs))
	seen := map[string]bool{}
	for _, in := range inputs {
		if !seen[in.Path] {
			seen[in.Path] = true
			paths = append(paths, in.Path)
		}
	}
	out := make(map[string]string, len(paths))
	parts := make([][]string, len(paths))
	for i, p := range paths {
		parts[i] = strings.Split(filepath.ToSlash(filepath.Clean(p)), "/")
	}
	for i, p := range paths {
		out[p] = p
		for k := 1; k <= len(parts[i]); k++ {
			suffix := strings.Join(parts[i][len(parts[i])-k:], "/")
			unique := true
			for j := range paths {
				if j != i && hasSuffixParts(parts[j], parts[i][len(parts[i])-k:]) {
					unique = false
					break
				}
			}
			if unique {
				out[p] = suffix
				break
			}
		}
	}
	return out
}

func hasSuffixParts(p, suffix []string) bool {
	if len(suffix) > len(p) {
		return false
	}
	for i := range suffix {
		if p[len(p)-len(suffix)+i] != suffix[i] {
			return false
		}
	}
	return true
}
