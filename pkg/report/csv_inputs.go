package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

type csvInputsPrinter struct{}

// CSVInputs prints one row per input (--format csv --csv-table inputs),
// header row first, escaped and neutralised as CSV is.
func CSVInputs() Printer { return csvInputsPrinter{} }

// CSVInputsHeader is the header row of CSVInputs.
var CSVInputsHeader = []string{"stream", "path", "format", "compression", "link_types", "packets", "first", "last", "error"}

func (csvInputsPrinter) Print(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVInputsHeader); err != nil {
		return err
	}
	for _, in := range r.Inputs {
		lts := make([]string, len(in.LinkTypes))
		for k, lt := range in.LinkTypes {
			lts[k] = strconv.FormatUint(uint64(lt), 10)
		}
		comp := in.Compression
		if comp == "" && in.Gzip {
			comp = "gzip"
		}
		row := []string{in.Stream, in.Path, in.Format, comp, strings.Join(lts, " "),
			strconv.FormatUint(in.Packets, 10), in.First, in.Last, in.Error}
		for k := range row {
			row[k] = CSVSafe(Escape(row[k]))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
