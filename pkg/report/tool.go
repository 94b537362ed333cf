package report

// Tool names the program that wrote a report: the JSON document's "tool"
// member. Version is the module version ("(devel)" for a build from a
// work tree, "v1.2.3" for `go install ...@v1.2.3`), Revision the VCS
// revision the binary was built from ("" when the build recorded none);
// Modified reports a build from a work tree with uncommitted changes.
type Tool struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Revision string `json:"revision"`
	Modified bool   `json:"modified,omitempty"`
}

// FilterSettings echoes the filters a scan ran with. From and To are the
// window's resolved times (RFC 3339 UTC); a bound given relative to the
// capture's start that could not be resolved (no packet was read) is
// echoed as given, "+N s".
type FilterSettings struct {
	Hosts []string `json:"hosts,omitempty"`
	Ports []uint16 `json:"ports,omitempty"`
	From  string   `json:"from,omitempty"`
	To    string   `json:"to,omitempty"`
}
