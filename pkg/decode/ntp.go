package decode

import (
	"fmt"
	"strconv"
)

// NTP checks, shared by ClassifyPayload and ClassifyMsg. They allocate
// nothing. Modes 1-5 follow RFC 5905 and what ntpd accepts; modes 6
// (control, ntpq) and 7 (private, ntpdc) follow ntpd's own definitions.
// References are to github.com/ntp-project/ntp at 9c75327c (ntp-4.2.8p6
// development): include/ntp.h, include/ntp_control.h,
// include/ntp_request.h, ntpd/ntp_proto.c (receive), ntpd/ntp_control.c
// (process_control, ctl_error), ntpd/ntp_request.c (process_private,
// req_ack, flush_pkt) and ntpq/ntpq.c (sendrequest); and to chrony,
// github.com/mlichvar/chrony at 8f2db839, ntp_core.c (MIN_POLL, MAX_POLL,
// transmit_packet).
//
// Every mode needs version 1-4 (NTP_OLDVERSION to NTP_VERSION: ntpd drops
// others). Mode 0 is refused: RFC 5905 reserves it, and ntpd takes it
// only from version 1 as a client, which no loop or current client sends.
//
// Modes 1-5 (symmetric active and passive, client, server, broadcast):
//   - at least the 48-byte header (LEN_PKT_NOMAC);
//   - stratum 0-16 (STRATUM_UNSPEC; RFC 5905 reserves 17-255);
//   - poll, a signed log2 of seconds, in -7..24: ntpd sends
//     NTP_MINPOLL..NTP_MAXPOLL (3..17, 4..17 in RFC 5905), SNTP clients
//     leave 0, ntpsec's minpoll goes down to 0, and chrony polls from
//     MIN_POLL -7 to MAX_POLL 24;
//   - precision, a signed log2 of seconds, in -32..0 (ntpd measures
//     about -20, chrony about -25; SNTP clients may leave 0), or 32 in
//     a client request of stratum 0: chrony's transmit_packet sends
//     precision 32 and zero stratum in client mode so as not to reveal
//     its clock;
//   - the rest of the datagram as ntpd's receive() walks it: nothing, a
//     MAC of 4 to 24 bytes (MIN_MAC_LEN to MAX_MAC_LEN), or extension
//     fields (a multiple of 4 bytes, length in the low 16 bits of their
//     first word) before one: so 48, 52, 56, ..., 72 bytes, or longer
//     with extension fields.
//
// Printable text never passes: its fourth byte would have to be a
// precision of 0 (a NUL), below -32 (a byte of 0xe0 or more), or 32 (a
// space) after a stratum of 0 (a NUL).
//
// Mode 6 (struct ntp_control): a 12-byte header (CTL_HEADER_LEN) whose
// data count is at most 468 (CTL_MAX_DATA_LEN), followed by that many
// bytes, padding to 8 bytes and at most a MAX_MAC_LEN MAC. A request
// (response bit clear) has neither the error nor the more bit and offset
// 0, as process_control drops others, and leap indicator 0 and status 0,
// as ntpq's sendrequest writes them. An error response carries its
// CERR_* code in the status word's high byte (ctl_error).
//
// Mode 7 (struct req_pkt, resp_pkt): an 8-byte header (REQ_LEN_HDR,
// RESP_HEADER_SIZE); implementation 0 (IMPL_UNIV), 2 (IMPL_XNTPD_OLD) or 3
// (IMPL_XNTPD); error nibble 0-7 (MAX_INFO_ERR); MBZ nibble 0; item count
// and item size at most 500; at most 500 bytes of data (RESP_DATA_SIZE).
// A request (response bit clear) has no more bit, sequence 0 and error 0,
// as process_private drops others, and data holding its items. A response
// is exactly the header and its items (flush_pkt, more_pkt): the error
// responses of CVE-2009-3563 are 8-byte headers from req_ack with the
// response bit, no items and an INFO_ERR_* code.
//
// When cut, checks against the end of the datagram (length, MAC and
// extension fields, data counts) are skipped; the mode's header must still
// be there.

const (
	ntpHeaderLen    = 48  // LEN_PKT_NOMAC
	ntpMinMAC       = 4   // MIN_MAC_LEN
	ntpMaxMAC       = 24  // MAX_MAC_LEN
	ntpMaxStratum   = 16  // STRATUM_UNSPEC
	ntpMinPoll      = -7  // chrony's MIN_POLL
	ntpMaxPoll      = 24  // chrony's MAX_POLL
	ntpHidden       = 32  // chrony's precision in client requests
	ntpMinPrecision = -32 // 2^-32 s: below the 64-bit timestamp's resolution
	ctlHeaderLen    = 12  // CTL_HEADER_LEN
	ctlMaxData      = 468 // CTL_MAX_DATA_LEN
	ctlPad          = 7   // process_control rounds the data up to 8 bytes
	reqHeaderLen    = 8   // REQ_LEN_HDR, RESP_HEADER_SIZE
	respMaxData     = 500 // RESP_DATA_SIZE
)

// NTP modes.
const (
	ntpModeActive    = 1
	ntpModePassive   = 2
	ntpModeClient    = 3
	ntpModeServer    = 4
	ntpModeBroadcast = 5
	ntpModeControl   = 6
	ntpModePrivate   = 7
)

// ntpHeader is what ntpCheck read.
type ntpHeader struct {
	version, mode uint8
	// Modes 6 and 7: the response bit, whether an error is reported,
	// and its code (mode 6: the status word's high byte; mode 7: the
	// error nibble).
	response, isErr bool
	code            uint8
}

// ntpCheck reports whether b is an NTP message by the rules above.
func ntpCheck(b []byte, cut bool) (h ntpHeader, ok bool) {
	if len(b) < reqHeaderLen {
		return h, false
	}
	h.version, h.mode = b[0]>>3&7, b[0]&7
	if h.version < 1 || h.version > 4 {
		return h, false
	}
	switch h.mode {
	case ntpModeActive, ntpModePassive, ntpModeClient, ntpModeServer, ntpModeBroadcast:
		if len(b) < ntpHeaderLen || b[1] > ntpMaxStratum {
			return h, false
		}
		if p := int8(b[2]); p < ntpMinPoll || p > ntpMaxPoll {
			return h, false
		}
		if p := int8(b[3]); (p < ntpMinPrecision || p > 0) && !(p == ntpHidden && h.mode == ntpModeClient && b[1] == 0) {
			return h, false
		}
		return h, cut || ntpTrailer(b)
	case ntpModeControl:
		if len(b) < ctlHeaderLen {
			return h, false
		}
		op := b[1]
		h.response, h.isErr = op&0x80 != 0, op&0x40 != 0
		if !h.response && (op&0x60 != 0 || b[8]|b[9] != 0 || b[0]>>6 != 0 || b[4]|b[5] != 0) {
			return h, false
		}
		count := int(b[10])<<8 | int(b[11])
		if count > ctlMaxData {
			return h, false
		}
		if !cut && (len(b) < ctlHeaderLen+count || len(b) > ctlHeaderLen+count+ctlPad+ntpMaxMAC) {
			return h, false
		}
		if h.isErr {
			h.code = b[4]
		}
		return h, true
	case ntpModePrivate:
		h.response = b[0]&0x80 != 0
		if impl := b[2]; impl != 0 && impl != 2 && impl != 3 {
			return h, false
		}
		h.code = b[4] >> 4
		h.isErr = h.code != 0
		items := int(b[4]&0x0f)<<8 | int(b[5])
		size := int(b[6]&0x0f)<<8 | int(b[7])
		if h.code > 7 || b[6]>>4 != 0 || items > respMaxData || size > respMaxData {
			return h, false
		}
		if !h.response && (b[0]&0x40 != 0 || b[1]&0x7f != 0 || h.isErr) {
			return h, false
		}
		if !cut && (len(b) > reqHeaderLen+respMaxData || items*size > len(b)-reqHeaderLen ||
			h.response && len(b) != reqHeaderLen+items*size) {
			return h, false
		}
		return h, true
	}
	return h, false
}

// ntpTrailer walks what follows a 48-byte header as ntpd's receive()
// does: extension fields while more than a MAC is left, then a MAC or
// nothing.
func ntpTrailer(b []byte) bool {
	off := ntpHeaderLen
	for rest := len(b) - off; rest > 0; {
		if rest%4 != 0 || rest < ntpMinMAC {
			return false
		}
		if rest <= ntpMaxMAC {
			return true
		}
		n := int(b[off+2])<<8 | int(b[off+3])
		if n%4 != 0 || n < 4 || n > rest {
			return false
		}
		off += n
		rest -= n
	}
	return true
}

var ntpModes = [...]string{1: "symmetric active", 2: "symmetric passive", 3: "client", 4: "server", 5: "broadcast", 6: "control", 7: "private"}

// ctlOps names mode 6 opcodes (CTL_OP_*, include/ntp_control.h).
var ctlOps = [...]string{"UNSPEC", "READSTAT", "READVAR", "WRITEVAR", "READCLOCK", "WRITECLOCK", "SETTRAP", "ASYNCMSG",
	"CONFIGURE", "SAVECONFIG", "READ_MRU", "READ_ORDLIST_A", "REQ_NONCE", 31: "UNSETTRAP"}

// ctlErrors names mode 6 error codes (CERR_*, include/ntp_control.h).
var ctlErrors = [...]string{"CERR_UNSPEC", "CERR_PERMISSION", "CERR_BADFMT", "CERR_BADOP", "CERR_BADASSOC", "CERR_UNKNOWNVAR", "CERR_BADVALUE", "CERR_RESTRICT"}

// infoErrors names mode 7 error codes (INFO_*, include/ntp_request.h).
var infoErrors = [...]string{"INFO_OKAY", "INFO_ERR_IMPL", "INFO_ERR_REQ", "INFO_ERR_FMT", "INFO_ERR_NODATA", "", "", "INFO_ERR_AUTH"}

// reqImpls names mode 7 implementation numbers (IMPL_*).
var reqImpls = [...]string{0: "UNIV", 2: "XNTPD_OLD", 3: "XNTPD"}

// reqCodes names ntpdc's mode 7 request codes (REQ_*, include/ntp_request.h).
var reqCodes = [...]string{"PEER_LIST", "PEER_LIST_SUM", "PEER_INFO", "PEER_STATS", "SYS_INFO", "SYS_STATS", "IO_STATS",
	"MEM_STATS", "LOOP_INFO", "TIMER_STATS", "CONFIG", "UNCONFIG", "SET_SYS_FLAG", "CLR_SYS_FLAG", "MONITOR", "NOMONITOR",
	"GET_RESTRICT", "RESADDFLAGS", "RESSUBFLAGS", "UNRESTRICT", "MON_GETLIST", "RESET_STATS", "RESET_PEER", "REREAD_KEYS",
	"DO_DIRTY_HACK", "DONT_DIRTY_HACK", "TRUSTKEY", "UNTRUSTKEY", "AUTHINFO", "TRAPS", "ADD_TRAP", "CLR_TRAP", "REQUEST_KEY",
	"CONTROL_KEY", "GET_CTLSTATS", "GET_LEAPINFO", "GET_CLOCKINFO", "SET_CLKFUDGE", "GET_KERNEL", "GET_CLKBUGINFO", "",
	"SET_PRECISION", "MON_GETLIST_1", "HOSTNAME_ASSOCID", "IF_STATS", "IF_RELOAD"}

// named is names[i] with i in parentheses, or "unknown (i)".
func named(names []string, i int) string {
	if i < len(names) && names[i] != "" {
		return names[i] + " (" + strconv.Itoa(i) + ")"
	}
	return "unknown (" + strconv.Itoa(i) + ")"
}

// ntp describes an NTP message, with the checks ClassifyMsg makes.
func ntp(b []byte) (PayloadInfo, bool) {
	h, ok := ntpCheck(b, false)
	if !ok {
		return PayloadInfo{}, false
	}
	pi := PayloadInfo{Kind: PayloadNTP, NTPVersion: h.version, NTPMode: h.mode}
	dir := "request"
	if h.response {
		dir = "response"
	}
	switch h.mode {
	case ntpModeControl:
		pi.Summary = fmt.Sprintf("NTP Version %d, control, %s, Opcode: %s", h.version, dir, named(ctlOps[:], int(b[1]&0x1f)))
		if h.isErr {
			pi.Summary += ", Error: " + named(ctlErrors[:], int(h.code))
		}
	case ntpModePrivate:
		pi.Summary = fmt.Sprintf("NTP Version %d, private, %s, Implementation: %s, Request code: %s",
			h.version, dir, named(reqImpls[:], int(b[2])), named(reqCodes[:], int(b[3])))
		if h.response {
			pi.Summary += ", Error: " + named(infoErrors[:], int(h.code))
		}
	default:
		pi.Summary = fmt.Sprintf("NTP Version %d, %s", h.version, ntpModes[h.mode])
	}
	return pi, true
}
