package report

import (
	"encoding/json"
	"io"
	"net/netip"
	"time"
)

// JSON Lines (--format jsonl): one object a line, written and flushed as
// soon as it is known, for jq, Elastic, ClickHouse and the like. Field
// names follow the Elastic Common Schema where one exists; pongscan's own
// fields are under "pongscan", which holds each object whole as the JSON
// report has it (pongscan.loop, pongscan.input, pongscan.summary), so
// `pongscan merge` reads JSON Lines back without loss.
//
//	loop:    @timestamp, event.{id (the loop's id), kind: alert, category, type, dataset:
//	         pongscan.loop, start, end, duration (ns)}, source.{ip, port,
//	         packets, bytes} (the client), destination.* (the server),
//	         network.{transport: udp, iana_number, community_id, packets,
//	         bytes}, observer.name (the stream), file.path (the file of the
//	         loop's first packet), pongscan.{type: loop, loop}
//	input:   @timestamp, event.{kind: event, dataset: pongscan.input,
//	         start, end}, file.path, observer.name, pongscan.{type: input,
//	         input}
//	summary: event.{kind: metric, dataset: pongscan.summary},
//	         pongscan.{type: summary, schema, summary, settings, warnings}

// JSONLSchema names the version of the JSON Lines objects.
const JSONLSchema = "pongscan.jsonl/v1"

type ecsEvent struct {
	ID       string   `json:"id,omitempty"` // the loop's stable id
	Kind     string   `json:"kind"`
	Category []string `json:"category,omitempty"`
	Type     []string `json:"type,omitempty"`
	Dataset  string   `json:"dataset"`
	Start    string   `json:"start,omitempty"`
	End      string   `json:"end,omitempty"`
	Duration *int64   `json:"duration,omitempty"`
}

type ecsEndpoint struct {
	IP      string `json:"ip"`
	Port    uint16 `json:"port"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

type ecsNetwork struct {
	Transport   string `json:"transport"`
	IANANumber  string `json:"iana_number"`
	CommunityID string `json:"community_id,omitempty"`
	Packets     uint64 `json:"packets"`
	Bytes       uint64 `json:"bytes"`
}

type ecsName struct {
	Name string `json:"name"`
}

type ecsFile struct {
	Path string `json:"path"`
}

// JSONLPongscan is the "pongscan" object of a line: Type says which of
// the other fields is set.
type JSONLPongscan struct {
	Type     string    `json:"type"` // loop, input or summary
	Schema   string    `json:"schema,omitempty"`
	Loop     *Loop     `json:"loop,omitempty"`
	Input    *Input    `json:"input,omitempty"`
	Summary  *Summary  `json:"summary,omitempty"`
	Settings *Settings `json:"settings,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
}

type jsonlLine struct {
	Timestamp   string        `json:"@timestamp,omitempty"`
	Event       ecsEvent      `json:"event"`
	Source      *ecsEndpoint  `json:"source,omitempty"`
	Destination *ecsEndpoint  `json:"destination,omitempty"`
	Network     *ecsNetwork   `json:"network,omitempty"`
	Observer    *ecsName      `json:"observer,omitempty"`
	File        *ecsFile      `json:"file,omitempty"`
	Pongscan    JSONLPongscan `json:"pongscan"`
}

// JSONLWriter writes report objects as JSON Lines, each flushed as it is
// written (when w has a Flush method, such as a *bufio.Writer).
type JSONLWriter struct {
	w io.Writer
}

// NewJSONL returns a JSONLWriter on w.
func NewJSONL(w io.Writer) *JSONLWriter { return &JSONLWriter{w: w} }

func (j *JSONLWriter) write(v *jsonlLine) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(escapeJSON(b), '\n')
	if _, err := j.w.Write(b); err != nil {
		return err
	}
	if f, ok := j.w.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}

func observer(stream string) *ecsName {
	if stream == "" {
		return nil
	}
	return &ecsName{Name: stream}
}

// Loop writes a loop object.
func (j *JSONLWriter) Loop(l *Loop) error {
	line := &jsonlLine{
		Timestamp: l.Start,
		Event: ecsEvent{ID: l.ID, Kind: "alert", Category: []string{"network"}, Type: []string{"connection", "info"},
			Dataset: "pongscan.loop", Start: l.Start, End: l.End},
		Source: &ecsEndpoint{IP: l.Client.IP, Port: l.Client.Port, Packets: l.ClientToServer.Packets, Bytes: l.ClientToServer.Bytes},
		Destination: &ecsEndpoint{IP: l.Server.IP, Port: l.Server.Port, Packets: l.ServerToClient.Packets,
			Bytes: l.ServerToClient.Bytes},
		Network:  &ecsNetwork{Transport: "udp", IANANumber: "17", Packets: l.Packets, Bytes: l.Bytes},
		Observer: observer(l.Stream),
		Pongscan: JSONLPongscan{Type: "loop", Loop: l},
	}
	if s, e, err := parseTimes(l.Start, l.End); err == nil {
		d := e - s
		line.Event.Duration = &d
	}
	c, errC := netip.ParseAddr(l.Client.IP)
	s, errS := netip.ParseAddr(l.Server.IP)
	if errC == nil && errS == nil {
		line.Network.CommunityID = CommunityID(0, 17, netip.AddrPortFrom(c, l.Client.Port), netip.AddrPortFrom(s, l.Server.Port))
	}
	if f := l.FirstPacket.File; f != "" {
		line.File = &ecsFile{Path: f}
	}
	return j.write(line)
}

// Input writes an input object.
func (j *JSONLWriter) Input(in *Input) error {
	return j.write(&jsonlLine{
		Timestamp: in.First,
		Event:     ecsEvent{Kind: "event", Category: []string{"file"}, Type: []string{"access"}, Dataset: "pongscan.input", Start: in.First, End: in.Last},
		Observer:  observer(in.Stream),
		File:      &ecsFile{Path: in.Path},
		Pongscan:  JSONLPongscan{Type: "input", Input: in},
	})
}

// Summary writes the summary object: the last line.
func (j *JSONLWriter) Summary(r *Report) error {
	return j.write(&jsonlLine{
		Event: ecsEvent{Kind: "metric", Dataset: "pongscan.summary"},
		Pongscan: JSONLPongscan{Type: "summary", Schema: JSONLSchema, Summary: &r.Summary, Settings: &r.Settings,
			Warnings: r.Warnings},
	})
}

func parseTimes(a, b string) (int64, int64, error) {
	ta, err := time.Parse(time.RFC3339Nano, a)
	if err != nil {
		return 0, 0, err
	}
	tb, err := time.Parse(time.RFC3339Nano, b)
	if err != nil {
		return 0, 0, err
	}
	return ta.UnixNano(), tb.UnixNano(), nil
}

type jsonlPrinter struct{}

// JSONL prints the report as JSON Lines: for each stream in turn its
// loops, then its inputs; the summary last.
func JSONL() Printer { return jsonlPrinter{} }

func (jsonlPrinter) Print(w io.Writer, r *Report) error {
	j := NewJSONL(w)
	// Each stream's loops and inputs, in one pass over each: streams in
	// the order they first appear, loops first.
	var order []string
	at := map[string]int{}
	stream := func(name string) int {
		k, ok := at[name]
		if !ok {
			k = len(order)
			at[name] = k
			order = append(order, name)
		}
		return k
	}
	loops := make([]int32, len(r.Loops)) // each loop's stream
	for i := range r.Loops {
		loops[i] = int32(stream(r.Loops[i].Stream))
	}
	inputs := make([]int32, len(r.Inputs))
	for i := range r.Inputs {
		inputs[i] = int32(stream(r.Inputs[i].Stream))
	}
	// The loops of stream k are first[k], then next[first[k]], ...: in
	// the report's order, and one pass over them all.
	byStream := func(of []int32) (first, next []int32) {
		first, next = make([]int32, len(order)), make([]int32, len(of))
		last := make([]int32, len(order))
		for k := range first {
			first[k], last[k] = -1, -1
		}
		for i, k := range of {
			next[i] = -1
			if last[k] < 0 {
				first[k] = int32(i)
			} else {
				next[last[k]] = int32(i)
			}
			last[k] = int32(i)
		}
		return first, next
	}
	lf, ln := byStream(loops)
	inf, inn := byStream(inputs)
	for k := range order {
		for i := lf[k]; i >= 0; i = ln[i] {
			if err := j.Loop(&r.Loops[i]); err != nil {
				return err
			}
		}
		for i := inf[k]; i >= 0; i = inn[i] {
			if err := j.Input(&r.Inputs[i]); err != nil {
				return err
			}
		}
	}
	return j.Summary(r)
}

// ReadJSONLine decodes one JSON Lines object written by JSONLWriter.
func ReadJSONLine(b []byte) (*JSONLPongscan, error) {
	var v struct {
		Pongscan JSONLPongscan `json:"pongscan"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return &v.Pongscan, nil
}
