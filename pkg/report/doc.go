// Package report holds the scan report, the JSON document of schema
// pongscan.report/v1, and its printers (table for people, JSON and CSV for
// scripts) behind the Printer interface.
//
// Strings that came from packets are hostile: the table escapes every
// control byte, CSV neutralises cells a spreadsheet would run as formulas,
// and JSON carries only valid UTF-8 (raw bytes live in hex fields).
package report
