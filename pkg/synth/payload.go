package synth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Query describes a DNS query message.
type Query struct {
	// ID is the DNS message ID.
	ID uint16
	// Name is the query name in presentation form, without trailing dot.
	Name string
	// Type is the query type; 0 means A.
	Type layers.DNSType
	// RD sets the recursion-desired bit.
	RD bool
	// EDNS adds an OPT record advertising a 1232-byte UDP payload size.
	EDNS bool
}

func (q Query) qtype() layers.DNSType {
	if q.Type == 0 {
		return layers.DNSTypeA
	}
	return q.Type
}

// ResponseKind selects the shape of a DNS response.
type ResponseKind int

const (
	// Answer is an authoritative answer with records of the query type.
	Answer ResponseKind = iota
	// Referral is a delegation: NS records in the authority section and
	// glue addresses in the additional section, as in the seed incident.
	Referral
	// NXDomain is an authoritative name error with an SOA record.
	NXDomain
)

// String returns the name of the kind.
func (k ResponseKind) String() string {
	switch k {
	case Answer:
		return "answer"
	case Referral:
		return "referral"
	case NXDomain:
		return "nxdomain"
	}
	return fmt.Sprintf("ResponseKind(%d)", int(k))
}

// ednsUDPSize is the UDP payload size advertised in OPT records.
const ednsUDPSize = 1232

// ednsOptionPadding is the EDNS(0) Padding option code (RFC 7830).
const ednsOptionPadding layers.DNSOptionCode = 12

// DNSQuery returns the wire form of q.
func DNSQuery(q Query) ([]byte, error) {
	d := &layers.DNS{
		ID:        q.ID,
		RD:        q.RD,
		Questions: []layers.DNSQuestion{{Name: []byte(q.Name), Type: q.qtype(), Class: layers.DNSClassIN}},
	}
	if q.EDNS {
		d.Additionals = append(d.Additionals, optRecord(0))
	}
	return serializeDNS(d)
}

// DNSResponse returns the wire form of a response of the given kind to q.
// The response echoes q's ID, question and RD bit. If q.EDNS is set, or
// padTo is positive, the response carries an OPT record; a positive padTo
// adds an EDNS Padding option so that the message is at least padTo bytes
// long (used to force IP fragmentation).
func DNSResponse(q Query, kind ResponseKind, padTo int) ([]byte, error) {
	name := []byte(q.Name)
	qt := q.qtype()
	d := &layers.DNS{
		ID:        q.ID,
		QR:        true,
		RD:        q.RD,
		Questions: []layers.DNSQuestion{{Name: name, Type: qt, Class: layers.DNSClassIN}},
	}
	switch kind {
	case Answer:
		d.AA = true
		rr := layers.DNSResourceRecord{Name: name, Type: qt, Class: layers.DNSClassIN, TTL: 300}
		switch qt {
		case layers.DNSTypeA:
			rr.IP = nameIPv4(q.Name)
		case layers.DNSTypeAAAA:
			rr.IP = nameIPv6(q.Name)
		case layers.DNSTypeNS:
			rr.NS = []byte("ns1." + q.Name)
		case layers.DNSTypeMX:
			rr.MX = layers.DNSMX{Preference: 10, Name: []byte("mail." + q.Name)}
		case layers.DNSTypeTXT:
			rr.TXTs = [][]byte{[]byte("v=spf1 -all")}
		default:
			// No data of this type: NODATA with the zone's SOA.
			d.Authorities = append(d.Authorities, soaRecord(q.Name))
			rr = layers.DNSResourceRecord{}
		}
		if rr.Type != 0 {
			d.Answers = append(d.Answers, rr)
		}
	case Referral:
		ns1, ns2 := []byte("ns1."+q.Name), []byte("ns2."+q.Name)
		d.Authorities = append(d.Authorities,
			layers.DNSResourceRecord{Name: name, Type: layers.DNSTypeNS, Class: layers.DNSClassIN, TTL: 172800, NS: ns1},
			layers.DNSResourceRecord{Name: name, Type: layers.DNSTypeNS, Class: layers.DNSClassIN, TTL: 172800, NS: ns2},
		)
		d.Additionals = append(d.Additionals,
			layers.DNSResourceRecord{Name: ns1, Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 172800, IP: net.IPv4(198, 51, 100, 11).To4()},
			layers.DNSResourceRecord{Name: ns2, Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 172800, IP: net.IPv4(198, 51, 100, 12).To4()},
		)
	case NXDomain:
		d.AA = true
		d.ResponseCode = layers.DNSResponseCodeNXDomain
		d.Authorities = append(d.Authorities, soaRecord(q.Name))
	default:
		return nil, fmt.Errorf("synth: unknown response kind %d", int(kind))
	}
	if !q.EDNS && padTo <= 0 {
		return serializeDNS(d)
	}
	d.Additionals = append(d.Additionals, optRecord(0))
	b, err := serializeDNS(d)
	if err != nil || len(b) >= padTo {
		return b, err
	}
	// The padding option costs 4 bytes of header plus its data.
	pad := max(padTo-len(b)-4, 0)
	d.Additionals[len(d.Additionals)-1] = optRecord(pad)
	return serializeDNS(d)
}

// FormErr returns the 12-byte, header-only FORMERR reply a name server
// sends to a message it cannot parse: it echoes the ID (the first two bytes
// of received), the opcode and the RD bit, sets QR and rcode 1, and has all
// section counts zero. Missing bytes of received count as zero.
func FormErr(received []byte) []byte {
	var hdr [3]byte
	copy(hdr[:], received)
	b := make([]byte, 12)
	b[0], b[1] = hdr[0], hdr[1]
	b[2] = 0x80 | hdr[2]&0x79 // QR, opcode, RD
	b[3] = byte(layers.DNSResponseCodeFormErr)
	return b
}

// TFTP error codes (RFC 1350).
const (
	TFTPErrNotDefined uint16 = 0
	TFTPErrIllegalOp  uint16 = 4
	TFTPErrUnknownTID uint16 = 5
)

// TFTPMsgRRQFirst is the error message of the seed incident's TFTP server.
const TFTPMsgRRQFirst = "RRQ must be sent first"

const tftpOpcodeError uint16 = 5

// TFTPError returns a TFTP ERROR packet (opcode 5) with the given error
// code and message, terminated by a NUL byte.
func TFTPError(code uint16, msg string) []byte {
	b := make([]byte, 4, 4+len(msg)+1)
	binary.BigEndian.PutUint16(b[0:2], tftpOpcodeError)
	binary.BigEndian.PutUint16(b[2:4], code)
	b = append(b, msg...)
	return append(b, 0)
}

// NTP modes used with NTP.
const (
	NTPModeClient uint8 = 3
	NTPModeServer uint8 = 4
)

// ntpEpochOffset is the number of seconds from 1900-01-01 to 1970-01-01.
const ntpEpochOffset = 2208988800

// NTP returns a 48-byte NTPv4 packet of the given mode whose transmit
// timestamp is t. Server packets carry stratum 2 and matching receive and
// reference timestamps.
func NTP(mode uint8, t time.Time) []byte {
	b := make([]byte, 48)
	b[0] = 4<<3 | mode&7 // LI 0, version 4
	ts := ntpTimestamp(t)
	if mode == NTPModeServer {
		b[1] = 2                                   // stratum
		b[3] = 0xe9                                // precision -23
		binary.BigEndian.PutUint32(b[4:8], 0x0010) // root delay
		binary.BigEndian.PutUint32(b[8:12], 0x0020)
		copy(b[12:16], []byte{192, 0, 2, 123}) // reference ID
		binary.BigEndian.PutUint64(b[16:24], ts)
		binary.BigEndian.PutUint64(b[32:40], ts)
	}
	b[2] = 6 // poll
	binary.BigEndian.PutUint64(b[40:48], ts)
	return b
}

func ntpTimestamp(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

func serializeDNS(d *layers.DNS) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		return nil, fmt.Errorf("synth: serialize dns: %w", err)
	}
	if len(buf.Bytes()) > 65535-8 {
		return nil, errors.New("synth: dns message too long for udp")
	}
	return append([]byte(nil), buf.Bytes()...), nil
}

func optRecord(pad int) layers.DNSResourceRecord {
	rr := layers.DNSResourceRecord{Name: []byte{}, Type: layers.DNSTypeOPT, Class: layers.DNSClass(ednsUDPSize)}
	if pad > 0 {
		rr.OPT = []layers.DNSOPT{{Code: ednsOptionPadding, Data: make([]byte, pad)}}
	}
	return rr
}

func soaRecord(name string) layers.DNSResourceRecord {
	zone := name
	if i := strings.IndexByte(name, '.'); i >= 0 && strings.Count(name, ".") > 1 {
		zone = name[i+1:]
	}
	return layers.DNSResourceRecord{
		Name: []byte(zone), Type: layers.DNSTypeSOA, Class: layers.DNSClassIN, TTL: 3600,
		SOA: layers.DNSSOA{
			MName: []byte("ns1." + zone), RName: []byte("hostmaster." + zone),
			Serial: 2016020801, Refresh: 7200, Retry: 900, Expire: 1209600, Minimum: 3600,
		},
	}
}

func nameHash(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()
}

func nameIPv4(name string) net.IP {
	h := nameHash(name)
	return net.IPv4(198, 51, 100, byte(h%200)+20).To4()
}

func nameIPv6(name string) net.IP {
	h := nameHash(name)
	ip := net.ParseIP("2001:db8:100::")
	binary.BigEndian.PutUint32(ip[12:], h)
	return ip
}
