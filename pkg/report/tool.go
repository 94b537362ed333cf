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
