package followup

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/scan"
)

// writer writes one loop's pcapng file with gopacket's pcapgo.NgWriter:
// one interface per original link type, nanosecond timestamps (the
// originals, whatever their resolution), and each packet's original
// file#frame as its comment. It writes to a temporary file renamed into
// place when complete.
type writer struct {
	path, tmp string
	f         *os.File
	bw        *bufio.Writer
	ng        *pcapgo.NgWriter
	ifaces    map[uint32]int
	loop      *report.Loop
	x         report.Extract
	err       error
}

func newWriter(dir string, n int, l *report.Loop) (*writer, error) {
	w := &writer{path: filepath.Join(dir, fmt.Sprintf("loop-%d.pcapng", n)), ifaces: map[uint32]int{}, loop: l}
	w.x.File = w.path
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return w, err
	}
	f, err := os.CreateTemp(dir, fmt.Sprintf(".loop-%d-*.pcapng", n))
	if err != nil {
		return w, err
	}
	w.f, w.tmp = f, f.Name()
	w.bw = bufio.NewWriter(f)
	return w, nil
}

// start writes the section header and the first interface.
func (w *writer) start(link uint32, l *report.Loop) error {
	info := pcapgo.DefaultNgWriterOptions
	info.SectionInfo.Application = "pongscan"
	info.SectionInfo.Comment = report.ValidUTF8(fmt.Sprintf("machine-pong loop %s:%d <-> %s:%d from %s: its trigger and every packet of the loop; each packet's comment is its original file#frame",
		l.Client.IP, l.Client.Port, l.Server.IP, l.Server.Port, l.Start))
	ng, err := pcapgo.NewNgWriterInterface(w.bw, iface(link), info)
	if err != nil {
		return err
	}
	w.ng, w.ifaces[link] = ng, 0
	return nil
}

func iface(link uint32) pcapgo.NgInterface {
	return pcapgo.NgInterface{Name: "linktype " + strconv.FormatUint(uint64(link), 10), LinkType: layers.LinkType(link),
		TimestampResolution: 9}
}

// write adds one frame, data its bytes, from the input called name.
func (w *writer) write(fr *scan.Frame, data []byte, name string, trig bool) {
	if w.err != nil {
		return
	}
	if w.ng == nil {
		if w.err = w.start(fr.Link, w.loop); w.err != nil {
			return
		}
	}
	id, ok := w.ifaces[fr.Link]
	if !ok {
		if id, w.err = w.ng.AddInterface(iface(fr.Link)); w.err != nil {
			return
		}
		w.ifaces[fr.Link] = id
	}
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, fr.Time), CaptureLength: len(data),
		Length: max(fr.OrigLen, len(data)), InterfaceIndex: id}
	opts := pcapgo.NgPacketOptions{Comments: []string{report.ValidUTF8(name) + "#" + strconv.FormatUint(fr.Frame, 10)}}
	if w.err = w.ng.WritePacketWithOptions(ci, data, opts); w.err != nil {
		return
	}
	w.x.Frames++
	if trig {
		w.x.TriggerFrames++
	} else {
		w.x.LoopFrames++
	}
}

// finish closes the file and moves it into place.
func (w *writer) finish() *report.Extract {
	x := w.x
	if w.err == nil && w.ng == nil {
		w.err = fmt.Errorf("no packet of the loop was found on a second read")
	}
	if w.err == nil {
		w.err = w.ng.Flush()
	}
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	if err := w.f.Close(); w.err == nil {
		w.err = err
	}
	if w.err == nil {
		// CreateTemp makes the file 0600; a capture is shared like any
		// file the user writes.
		w.err = os.Chmod(w.tmp, 0o644)
	}
	if w.err == nil {
		w.err = os.Rename(w.tmp, w.path)
	}
	if w.err != nil {
		// Nothing of it is left: no frame is said to be there.
		os.Remove(w.tmp)
		x.Error = fmt.Sprintf("%s: %v", w.path, w.err)
		x.Frames, x.TriggerFrames, x.LoopFrames = 0, 0, 0
	}
	w.f = nil
	return &x
}

// abort removes an unfinished file.
func (w *writer) abort() {
	if w.f != nil {
		w.f.Close()
		os.Remove(w.tmp)
		w.f = nil
	}
}
