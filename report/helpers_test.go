package report_test

import "os"

func writeFileT(path, body string) error { return os.WriteFile(path, []byte(body), 0o644) }
