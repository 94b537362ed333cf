// Package report holds the scan report, the JSON document of schema
// pongscan.report/v1, and its printers (table for people, JSON and CSV for
// scripts) behind the Printer interface.
//
// Strings that came from packets or file names are hostile. The table and
// CSV pass every string through Escape (control bytes, C1 controls,
// invalid UTF-8 and invisible format characters become escapes), and CSV
// then neutralises cells a spreadsheet would run as formulas. JSON
// carries only valid UTF-8 and writes the same characters as \u escapes;
// raw bytes live in hex fields.
package report
