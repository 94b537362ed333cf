package cli

import "github.com/spf13/cobra"

// Values offered by shell completion, with their descriptions.
var (
	formatValues = []cobra.Completion{
		cobra.CompletionWithDesc("table", "for people: a table on a terminal, tab-separated rows when piped"),
		cobra.CompletionWithDesc("json", "one pongscan.report/v1 document"),
		cobra.CompletionWithDesc("jsonl", "JSON Lines with ECS field names: loops, inputs, a summary last"),
		cobra.CompletionWithDesc("csv", "one row per loop (or per input, --csv-table inputs)"),
	}
	csvTableValues = []cobra.Completion{
		cobra.CompletionWithDesc("loops", "a row per loop"),
		cobra.CompletionWithDesc("inputs", "a row per input"),
	}
	streamByValues = []cobra.Completion{
		cobra.CompletionWithDesc("dir", "the files of one directory form a stream"),
	}
	progressValues = []cobra.Completion{
		cobra.CompletionWithDesc("auto", "only when stderr is a terminal"),
		cobra.CompletionWithDesc("always", "even when stderr is redirected"),
		cobra.CompletionWithDesc("never", "no progress line"),
	}
)

// completeValues makes shell completion offer values for a flag.
func completeValues(cmd *cobra.Command, flag string, values []cobra.Completion) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}
