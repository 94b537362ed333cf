package report

import (
	"encoding/json"
	"io"
)

type jsonPrinter struct{}

var _ Printer = jsonPrinter{}

// JSON prints the report as one indented JSON document.
func JSON() Printer { return jsonPrinter{} }

func (jsonPrinter) Print(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
