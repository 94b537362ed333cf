package decode

import "encoding/binary"

// TEMPORARY: a minimal message classifier so the loop detector can be
// built while the full one (issue 9, part 2) is written beside it. It is
// replaced by msg.go.

// MsgProto is the protocol a payload speaks.
type MsgProto uint8

// Protocols.
const (
	MsgEmpty MsgProto = iota
	MsgDNS
	MsgTFTP
	MsgNTP
	MsgText
	MsgBinary
)

// MsgRole is what a message does.
type MsgRole uint8

// Roles.
const (
	RoleUnknown MsgRole = iota
	RoleRequest
	RoleAnswer
	RoleTransfer
)

// Msg is the type of one payload.
type Msg struct {
	Proto MsgProto
	Role  MsgRole
	Type  uint16
}

// ClassifyMsg types a payload, allocating nothing.
func ClassifyMsg(b []byte, cut bool) Msg {
	if len(b) == 0 {
		return Msg{Proto: MsgEmpty}
	}
	if len(b) >= 4 {
		op := binary.BigEndian.Uint16(b)
		switch {
		case op == 5 && b[2] == 0 && b[3] <= 8 && b[len(b)-1] == 0:
			return Msg{Proto: MsgTFTP, Role: RoleAnswer, Type: 5<<8 | uint16(b[3])}
		}
	}
	var info DNSInfo
	if v := ClassifyDNS(b, cut, HeaderQuestion, &info); v == DNS && (info.Opcode <= 2 || info.Opcode == 4 || info.Opcode == 5) && info.RCode <= 10 {
		m := Msg{Proto: MsgDNS, Role: RoleRequest, Type: uint16(info.Opcode)<<11 | uint16(info.RCode)}
		if info.Response {
			m.Role, m.Type = RoleAnswer, m.Type|1<<15
		}
		return m
	}
	if len(b) >= 4 {
		switch op := binary.BigEndian.Uint16(b); {
		case (op == 1 || op == 2) && b[len(b)-1] == 0:
			return Msg{Proto: MsgTFTP, Role: RoleRequest, Type: op << 8}
		case op == 3 && len(b) <= 516, op == 4 && len(b) == 4:
			return Msg{Proto: MsgTFTP, Role: RoleTransfer, Type: op << 8}
		}
	}
	if vn, mode := b[0]>>3&7, b[0]&7; vn >= 1 && vn <= 4 {
		switch {
		case mode >= 1 && mode <= 5 && len(b) >= 48 && b[1] <= 16:
			role := RoleUnknown
			switch mode {
			case 1, 3:
				role = RoleRequest
			case 2, 4:
				role = RoleAnswer
			}
			return Msg{Proto: MsgNTP, Role: role, Type: uint16(vn)<<8 | uint16(mode)<<4}
		case mode == 7 && len(b) >= 8:
			role := RoleRequest
			if b[0]&0x80 != 0 {
				role = RoleAnswer
			}
			return Msg{Proto: MsgNTP, Role: role, Type: uint16(vn)<<8 | 7<<4 | uint16(b[0]>>7)<<3 | uint16(b[4]>>4)&7}
		}
	}
	for _, c := range b {
		if (c < 0x20 || c >= 0x7f) && c != '\r' && c != '\n' && c != '\t' {
			return Msg{Proto: MsgBinary}
		}
	}
	return Msg{Proto: MsgText}
}
