package github

import "time"

// GitHub's limits, each with the rule it comes from. Callers size their output
// against these; this package refuses (comments, issues) or trims (step summary)
// when a value would break them.
const (
	// MaxCommentBody: "Body is too long (maximum is 65536 characters)" is the
	// API's answer to an issue or pull request comment over this size. GitHub
	// counts characters, so this package counts Unicode code points.
	MaxCommentBody = 65536

	// MaxIssueBody: issue bodies share the comment rule ("Body is too long
	// (maximum is 65536 characters)").
	MaxIssueBody = 65536

	// MaxCheckRunSummary: a check run's output.summary "can contain a maximum of
	// 65535 characters".
	MaxCheckRunSummary = 65535

	// MaxCheckRunText: a check run's output.text "can contain a maximum of
	// 65535 characters".
	MaxCheckRunText = 65535

	// MaxCheckRunAnnotationsPerRequest: "The Checks API limits the number of
	// annotations to a maximum of 50 per API request."
	MaxCheckRunAnnotationsPerRequest = 50

	// MaxStepSummaryBytes: "$GITHUB_STEP_SUMMARY ... the maximum size for each
	// step is 1MiB"; over it the summary is not uploaded and an error annotation
	// is shown instead.
	MaxStepSummaryBytes = 1 << 20

	// MaxJobOutputsBytes: "Outputs are Unicode strings, and can be a maximum of
	// 1 MB" per job (all its outputs together); "The total of all outputs in a
	// workflow run can be a maximum of 50 MB."
	MaxJobOutputsBytes = 1_000_000

	// MaxShownWarnings: workflow-command annotations are shown up to "10 warning
	// annotations ... per step"; the rest are accepted but not displayed on the
	// run or the pull request.
	MaxShownWarnings = 10

	// MaxShownErrors: likewise "10 error annotations ... per step" are shown.
	MaxShownErrors = 10

	// MaxPullRequestFiles: "Responses include a maximum of 3000 files" for
	// GET /repos/{owner}/{repo}/pulls/{pull_number}/files.
	MaxPullRequestFiles = 3000

	// MaxPerPage: "per_page: The number of results per page (max 100)."
	MaxPerPage = 100

	// MaxContentsAPIInline: the contents API "Between 1-100 MB: Only the raw or
	// object custom media types are supported"; over 1 MB the JSON response has
	// an empty content field and the bytes must come from the git blobs API.
	MaxContentsAPIInline = 1 << 20

	// MaxBlobAPISize: the blobs API "supports blobs up to 100 megabytes in size".
	MaxBlobAPISize = 100 << 20

	// SecondaryRateLimitWait: "If you receive a secondary rate limit error ...
	// If the retry-after response header is present, you should not retry your
	// request until after that many seconds has elapsed ... Otherwise, you
	// should wait for at least one minute before retrying."
	SecondaryRateLimitWait = time.Minute
)
