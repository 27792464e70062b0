package report

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed templates/html.tmpl
var htmlTemplate string

// HTML renders the report as one self-contained page (report.html): inline CSS, charts and the
// confusion-matrix heat map as inline SVG, images as data: URIs. It loads nothing from the
// network, and its Content-Security-Policy forbids the browser to try, so the file can be opened
// from a workflow artifact or an air-gapped disk as it is.
type HTML struct {
	// AssetDir is the output folder, against which the report's image paths (contact sheets,
	// Section.Images) are resolved to embed them. Empty: images are not embedded and the page
	// says so. A missing or unreadable image is a visible note in the page, never an error.
	AssetDir string
	// MaxImageBytes caps one embedded image (0: DefaultMaxImageBytes); a bigger one is named,
	// not embedded, so that one huge sheet cannot make the page unusable.
	MaxImageBytes int64
}

// DefaultMaxImageBytes is the default cap on one embedded image.
const DefaultMaxImageBytes = 8 << 20

var _ Writer = HTML{}

// Write implements Writer.
func (h HTML) Write(w io.Writer, r *Report) error {
	tmpl, err := template.New("html").Funcs(htmlFuncs).Parse(htmlTemplate)
	if err != nil {
		return fmt.Errorf("parse html template: %w", err)
	}
	// html/template escapes markup by context; sanitized removes what it does not: control
	// characters, direction overrides, unbounded strings from input.
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, h.view(sanitized(r))); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// The view types hold what the template shows, already formatted: the template only lays it out.
type htmlView struct {
	R       *Report
	Title   string
	Facts   []htmlFact
	Targets []htmlTarget
	Footer  string
}

type htmlFact struct {
	Name, Value string
	Code        bool // monospace (hashes, paths)
}

type htmlTarget struct {
	T       *Target
	Anchor  string
	Rows    []htmlRow
	HasThr  bool
	HasBase bool
	Model   []htmlFact
	Meta    []htmlFact
	Sig     *Table
	Details []htmlResult
}

type htmlRow struct {
	Res    *Result
	Anchor string // "" when the result has no details block
}

type htmlResult struct {
	Res      *Result
	Anchor   string
	Open     bool
	Error    string
	Sections []htmlSection
	Failures *htmlFailures
}

type htmlSection struct {
	S      Section
	Text   []string // paragraphs
	Heat   *heatMap
	Chart  *lineChart
	Images []htmlImage
}

type htmlFailures struct {
	F      *Failures
	Sheets []htmlSheet
}

// htmlSheet is one contact sheet, titled when a check has several.
type htmlSheet struct {
	Title string
	Image htmlImage
}

// htmlImage is an embedded image, or the note saying why it is not.
type htmlImage struct {
	Path string
	Src  template.URL // data: URI
	Note string
}

var htmlFuncs = template.FuncMap{
	"upper": func(s Status) string { return strings.ToUpper(string(s)) },
	"counts": func(g Gate) string {
		h := g.Headline()
		return h[strings.Index(h, ": ")+2:]
	},
	"num":    formatNumber,
	"inline": htmlInline,
}

// htmlInline renders the little markup check text carries (a pair of backticks around code, a
// pair of "**" around emphasis) as <code> and <strong>, and escapes everything else: a table
// cell written "**mean**" shows bold, not asterisks. An unpaired marker stays literal.
func htmlInline(s string) template.HTML {
	var b strings.Builder
	for s != "" {
		i := strings.IndexAny(s, "`*")
		if i < 0 {
			b.WriteString(html.EscapeString(s))
			break
		}
		b.WriteString(html.EscapeString(s[:i]))
		s = s[i:]
		mark, tag := "`", "code"
		if s[0] == '*' {
			mark, tag = "**", "strong"
		}
		if !strings.HasPrefix(s, mark) {
			b.WriteString(html.EscapeString(s[:1]))
			s = s[1:]
			continue
		}
		end := strings.Index(s[len(mark):], mark)
		if end <= 0 {
			b.WriteString(html.EscapeString(s[:len(mark)]))
			s = s[len(mark):]
			continue
		}
		inner := s[len(mark) : len(mark)+end]
		b.WriteString("<" + tag + ">" + html.EscapeString(inner) + "</" + tag + ">")
		s = s[2*len(mark)+end:]
	}
	return template.HTML(b.String())
}

func (h HTML) view(r *Report) htmlView {
	v := htmlView{R: r, Title: "cvgate: " + strings.ToUpper(string(r.Gate.Verdict)), Footer: footerText(r)}
	if len(r.Targets) == 1 {
		v.Title += " · " + r.Targets[0].Name
	}
	if d := r.Inputs.Dataset; d != nil {
		images := fmt.Sprintf("%d images, %d classes", d.Images, len(d.Classes))
		if len(d.Unreadable) > 0 {
			images += fmt.Sprintf(", %d unreadable", len(d.Unreadable))
		}
		v.Facts = append(v.Facts,
			htmlFact{"Data", d.Path, true},
			htmlFact{"Images", images, false},
			htmlFact{"Labels", d.LabelSource, false},
			htmlFact{"Dataset SHA-256", d.SHA256, true})
	}
	if r.Inputs.ConfigPath != "" {
		v.Facts = append(v.Facts, htmlFact{"Config", r.Inputs.ConfigPath + " (sha256 " + r.Inputs.ConfigSHA256 + ")", true})
	}
	if r.Run.StartedAt != "" {
		v.Facts = append(v.Facts, htmlFact{"Started", r.Run.StartedAt, false})
	}
	for _, k := range sortedKeys(r.Run.CI) {
		v.Facts = append(v.Facts, htmlFact{ciName(k), r.Run.CI[k], true})
	}
	for ti := range r.Targets {
		v.Targets = append(v.Targets, h.target(ti, &r.Targets[ti]))
	}
	return v
}

// ciNames label the run's CI keys (app's ciInfo) for a reader; other keys are shown capitalised.
var ciNames = map[string]string{
	"sha":          "Commit",
	"commit":       "Commit",
	"pr":           "Pull request",
	"ref":          "Git ref",
	"run_id":       "Workflow run",
	"run_attempt":  "Run attempt",
	"run_url":      "Run page",
	"repository":   "Repository",
	"workflow":     "Workflow",
	"workflow_ref": "Workflow file",
	"actor":        "Triggered by",
	"job":          "Job",
	"event":        "Event",
}

func ciName(key string) string {
	if name, ok := ciNames[key]; ok {
		return name
	}
	s := strings.ReplaceAll(key, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

func (h HTML) target(ti int, t *Target) htmlTarget {
	ht := htmlTarget{T: t, Anchor: fmt.Sprintf("t%d", ti)}
	for ri := range t.Results {
		res := &t.Results[ri]
		ht.HasThr = ht.HasThr || res.Threshold != ""
		ht.HasBase = ht.HasBase || res.VsBaseline != ""
		row := htmlRow{Res: res}
		if hasDetails(*res) {
			row.Anchor = ht.Anchor + "-" + res.ID
			ht.Details = append(ht.Details, h.result(row.Anchor, res))
		}
		ht.Rows = append(ht.Rows, row)
	}
	m := t.Model
	ht.Model = append(ht.Model, htmlFact{"Path", m.Path, true}, htmlFact{"SHA-256", m.SHA256, true})
	if m.SizeBytes > 0 {
		ht.Model = append(ht.Model, htmlFact{"Size", fmt.Sprintf("%.2f MB (%d bytes)", float64(m.SizeBytes)/(1<<20), m.SizeBytes), false})
	}
	if m.Producer != "" {
		ht.Model = append(ht.Model, htmlFact{"Producer", m.Producer, false})
	}
	if m.IRVersion > 0 || len(m.Opsets) > 0 {
		ht.Model = append(ht.Model, htmlFact{"Format", formatVersions(m), false})
	}
	if m.Output != "" {
		ht.Model = append(ht.Model, htmlFact{"Output", m.Output, false})
	}
	if p := m.Preprocess; p != nil {
		ht.Model = append(ht.Model, htmlFact{"Preprocessing", describePre(p), false})
	}
	if b := t.Baseline; b != nil {
		ht.Model = append(ht.Model, htmlFact{"Baseline", b.Source + " (sha256 " + b.SHA256 + ")", true})
	}
	for _, k := range sortedKeys(m.Metadata) {
		ht.Meta = append(ht.Meta, htmlFact{k, m.Metadata[k], false})
	}
	if s := m.Signature; s != nil {
		ht.Sig = &Table{Columns: []string{"role", "name", "dtype", "shape"}}
		for _, x := range s.Inputs {
			ht.Sig.Rows = append(ht.Sig.Rows, []string{"input", x.Name, x.DType, x.ShapeString()})
		}
		for _, x := range s.Outputs {
			ht.Sig.Rows = append(ht.Sig.Rows, []string{"output", x.Name, x.DType, x.ShapeString()})
		}
	}
	return ht
}

func (h HTML) result(anchor string, res *Result) htmlResult {
	// Open what needs reading (problems) and what is worth a look (charts, heat maps, images),
	// leaving passing text and tables folded.
	hr := htmlResult{Res: res, Anchor: anchor, Open: res.Status != StatusPass && res.Status != StatusSkip || res.Failures != nil}
	for _, s := range res.Details {
		hr.Open = hr.Open || s.Chart != nil || s.Matrix != nil || len(s.Images) > 0
	}
	if res.Error != "" && res.Status != StatusSkip {
		hr.Error = res.Error
	}
	for _, s := range res.Details {
		hs := htmlSection{S: s}
		for _, p := range strings.Split(strings.TrimSpace(s.Text), "\n\n") {
			if p != "" {
				hs.Text = append(hs.Text, p)
			}
		}
		if s.Matrix != nil {
			hs.Heat = newHeatMap(*s.Matrix)
		}
		if s.Chart != nil {
			hs.Chart = newLineChart(*s.Chart)
		}
		for _, img := range s.Images {
			hs.Images = append(hs.Images, h.embed(img))
		}
		hr.Sections = append(hr.Sections, hs)
	}
	if f := res.Failures; f != nil {
		hr.Failures = &htmlFailures{F: f}
		switch {
		case len(f.Sheets) > 0:
			for _, sh := range f.Sheets {
				hr.Failures.Sheets = append(hr.Failures.Sheets, htmlSheet{Title: fmt.Sprintf("%s (%d)", sh.Title, sh.Count), Image: h.embed(sh.Path)})
			}
		case f.ContactSheet != "":
			hr.Failures.Sheets = []htmlSheet{{Image: h.embed(f.ContactSheet)}}
		}
	}
	return hr
}

// embed reads an image below AssetDir and returns it as a data: URI, or a note saying why not.
func (h HTML) embed(rel string) htmlImage {
	img := htmlImage{Path: rel}
	clean := path.Clean(filepath.ToSlash(rel))
	switch {
	case h.AssetDir == "":
		img.Note = "not embedded: no output folder was given to the HTML writer"
		return img
	case rel == "" || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../"):
		img.Note = "not embedded: the path leaves the output folder"
		return img
	}
	full := filepath.Join(h.AssetDir, filepath.FromSlash(clean))
	max := h.MaxImageBytes
	if max <= 0 {
		max = DefaultMaxImageBytes
	}
	st, err := os.Stat(full)
	if err != nil {
		img.Note = "missing from the output folder"
		return img
	}
	if st.Size() > max {
		img.Note = fmt.Sprintf("not embedded: %d bytes, over the %d-byte limit for one image", st.Size(), max)
		return img
	}
	data, err := os.ReadFile(full)
	if err != nil {
		img.Note = "could not be read: " + err.Error()
		return img
	}
	mime := imageType(data)
	if mime == "" {
		img.Note = "not embedded: not a PNG, JPEG, GIF or WebP image"
		return img
	}
	// The URI is built here from bytes and a fixed media type, so it is safe to mark as a URL.
	img.Src = template.URL("data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(data))
	return img
}

// imageType sniffs the raster formats browsers show, by their magic numbers. SVG is left out
// on purpose: an SVG file is a document that could carry links.
func imageType(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return "image/jpeg"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "image/gif"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "image/webp"
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// formatVersions renders "IR 7 · ai.onnx 13, ai.onnx.ml 2".
func formatVersions(m Model) string {
	var parts []string
	if m.IRVersion > 0 {
		parts = append(parts, fmt.Sprintf("ONNX IR %d", m.IRVersion))
	}
	var ops []string
	for _, d := range sortedKeys(m.Opsets) {
		ops = append(ops, fmt.Sprintf("%s %d", d, m.Opsets[d]))
	}
	if len(ops) > 0 {
		parts = append(parts, "opsets "+strings.Join(ops, ", "))
	}
	return strings.Join(parts, " · ")
}

// describePre renders a preprocessing record in one line.
func describePre(p *Preprocess) string {
	s := fmt.Sprintf("%s %s %dx%d, %s, %s", p.DType, p.Layout, p.Width, p.Height, p.ChannelOrder, p.Resize)
	if p.Source != "" {
		s += " (" + p.Source + ")"
	}
	return s
}

// heatMap is a matrix laid out as SVG cells.
type heatMap struct {
	Width, Height int
	Cells         []heatCell
	RowLabels     []svgText
	ColLabels     []svgText
	RowTitle      svgText
	ColTitle      svgText
	Note          string // why the heat map is not drawn (too big), if it is not
}

type heatCell struct {
	X, Y, W, H int
	CX, CY     float64 // centre, for the number
	Fill       string
	Text       string
	TextFill   string
	Title      string
}

type svgText struct {
	X, Y   float64
	Text   string
	Anchor string // text-anchor
	Rotate bool
}

// maxHeatClasses bounds the heat map; past it the numbers stay in the table of report.json.
const maxHeatClasses = 150

// newHeatMap colours a matrix. A confusion matrix (square, same labels on both axes) is
// normalised per row, so a cell's colour is the share of its true class: the diagonal is
// recall, in blue, and errors are red, however unbalanced the classes. Any other matrix is
// shaded against its largest value.
func newHeatMap(m Matrix) *heatMap {
	nr, nc := len(m.Rows), len(m.Cols)
	if nr == 0 || nc == 0 {
		return nil
	}
	if nr > maxHeatClasses || nc > maxHeatClasses {
		return &heatMap{Note: fmt.Sprintf("%d x %d is too large to draw; the values are in report.json", nr, nc)}
	}
	confusion := nr == nc
	for i := range m.Rows {
		if confusion && m.Rows[i] != m.Cols[i] {
			confusion = false
		}
	}
	cell := 36
	if n := max(nr, nc); n > 12 {
		cell = max(6, 480/n)
	}
	longest := 0
	for _, l := range append(append([]string{}, m.Rows...), m.Cols...) {
		longest = max(longest, len([]rune(l)))
	}
	labelW := min(12+7*longest, 160)
	left, top := labelW+24, labelW+24
	hm := &heatMap{Width: left + nc*cell + 8, Height: top + nr*cell + 8}
	hm.RowTitle = svgText{X: 12, Y: float64(top + nr*cell/2), Text: m.RowLabel, Anchor: "middle", Rotate: true}
	hm.ColTitle = svgText{X: float64(left + nc*cell/2), Y: 14, Text: m.ColLabel, Anchor: "middle"}
	globalMax := 0.0
	for _, row := range m.Values {
		for _, v := range row {
			if v > globalMax && !math.IsInf(v, 0) {
				globalMax = v
			}
		}
	}
	showText := cell >= 22
	for i := 0; i < nr; i++ {
		hm.RowLabels = append(hm.RowLabels, svgText{X: float64(left - 6), Y: float64(top+i*cell) + float64(cell)/2 + 4, Text: m.Rows[i], Anchor: "end"})
		var row []float64
		if i < len(m.Values) {
			row = m.Values[i]
		}
		sum := 0.0
		for _, v := range row {
			if v > 0 && !math.IsInf(v, 0) {
				sum += v
			}
		}
		for j := 0; j < nc; j++ {
			v := math.NaN()
			if j < len(row) {
				v = row[j]
			}
			scale := globalMax
			if confusion {
				scale = sum
			}
			share := 0.0
			if scale > 0 && v > 0 && !math.IsNaN(v) && !math.IsInf(v, 0) {
				share = v / scale
			}
			hue := 212 // blue
			if confusion && i != j {
				hue = 4 // red
			}
			c := heatCell{X: left + j*cell, Y: top + i*cell, W: cell - 1, H: cell - 1, Fill: shade(hue, share)}
			c.CX, c.CY = float64(c.X)+float64(c.W)/2, float64(c.Y)+float64(c.H)/2
			c.Title = fmt.Sprintf("%s %s, %s %s: %s", m.RowLabel, m.Rows[i], m.ColLabel, m.Cols[j], formatNumber(v))
			if confusion && sum > 0 {
				c.Title += fmt.Sprintf(" (%.1f%% of the row)", 100*share)
			}
			if showText && !math.IsNaN(v) {
				c.Text = formatNumber(v)
				c.TextFill = "#1f2328"
				if share > 0.55 {
					c.TextFill = "#ffffff"
				}
			}
			hm.Cells = append(hm.Cells, c)
		}
	}
	for j := 0; j < nc; j++ {
		x := float64(left+j*cell) + float64(cell)/2
		hm.ColLabels = append(hm.ColLabels, svgText{X: x + 4, Y: float64(top - 6), Text: m.Cols[j], Anchor: "start", Rotate: true})
	}
	return hm
}

// shade is a colour of the given hue, from near white (share 0) to saturated (share 1).
func shade(hue int, share float64) string {
	if share <= 0 {
		return "#f6f8fa"
	}
	light := 96 - 58*math.Sqrt(math.Min(share, 1)) // sqrt: small error shares stay visible
	return fmt.Sprintf("hsl(%d,70%%,%.0f%%)", hue, light)
}

// lineChart is a chart laid out as SVG paths.
type lineChart struct {
	Width, Height int
	Plot          chartPlot
	Title         string
	YTicks        []svgTick
	XTicks        []svgTick
	XLabel        svgText
	YLabel        svgText
	Series        []chartSeries
}

// chartPlot is the plotting area, with the derived coordinates the template needs.
type chartPlot struct {
	X, Y, W, H    int
	Right, Bottom int
	TickX, TickY  int // where tick labels go
}

type svgTick struct {
	Pos   float64
	Label string
}

type chartSeries struct {
	Name        string
	Color       string
	Paths       []string // "x,y x,y ..." per unbroken run of finite values
	Points      []chartPoint
	LegendX     int
	LegendX2    int
	LegendTextX int
	LegendY     int
	Dash        string
}

type chartPoint struct {
	X, Y  float64
	Title string
}

// niceStep rounds a raw tick spacing up to 1, 2, 2.5 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if !(raw > 0) || math.IsInf(raw, 0) {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw*(1-1e-9) {
			return m * mag
		}
	}
	return 10 * mag
}

// palette is colour-blind-safe (Okabe and Ito), in order of use.
var palette = []string{"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442"}

func newLineChart(c Chart) *lineChart {
	const w, h = 640, 300
	lc := &lineChart{Width: w, Height: h + 24*((len(c.Series)+2)/3), Title: c.Title}
	lc.Plot = chartPlot{X: 64, Y: 16, W: w - 64 - 16, H: h - 16 - 56}
	lc.Plot.Right, lc.Plot.Bottom = lc.Plot.X+lc.Plot.W, lc.Plot.Y+lc.Plot.H
	lc.Plot.TickX, lc.Plot.TickY = lc.Plot.X-8, lc.Plot.Bottom+18
	// The same axis as the markdown chart: narrowed to the data when they sit in a corner of the
	// declared range, so that the gap between candidate and baseline shows.
	ymin, ymax := axisRange(c, len(c.X))
	if ymax <= ymin {
		ymin, ymax = ymin-0.5, ymax+0.5
	}
	step := niceStep((ymax - ymin) / 4)
	px := func(i int) float64 {
		if len(c.X) <= 1 {
			return float64(lc.Plot.X) + float64(lc.Plot.W)/2
		}
		return float64(lc.Plot.X) + float64(i)*float64(lc.Plot.W)/float64(len(c.X)-1)
	}
	py := func(v float64) float64 {
		v = math.Max(ymin, math.Min(ymax, v))
		return float64(lc.Plot.Y+lc.Plot.H) - (v-ymin)/(ymax-ymin)*float64(lc.Plot.H)
	}
	for k := math.Ceil(ymin/step - 1e-9); k*step <= ymax+step*1e-9; k++ {
		v := k * step
		lc.YTicks = append(lc.YTicks, svgTick{Pos: math.Round(py(v)*10) / 10, Label: formatNumber(math.Round(v*1e6) / 1e6)})
	}
	for i, x := range c.X {
		lc.XTicks = append(lc.XTicks, svgTick{Pos: px(i), Label: x})
	}
	lc.XLabel = svgText{X: float64(lc.Plot.X + lc.Plot.W/2), Y: float64(lc.Plot.Y+lc.Plot.H) + 40, Text: c.XLabel, Anchor: "middle"}
	lc.YLabel = svgText{X: 16, Y: float64(lc.Plot.Y + lc.Plot.H/2), Text: c.YLabel, Anchor: "middle", Rotate: true}
	for si, s := range c.Series {
		cs := chartSeries{Name: s.Name, Color: palette[si%len(palette)]}
		// A baseline is drawn dashed, so the candidate stands out in print and for colour-blind readers.
		if strings.Contains(strings.ToLower(s.Name), "baseline") {
			cs.Dash = "6 4"
		}
		var run []string
		for i, v := range s.Values {
			if i >= len(c.X) {
				break
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				if len(run) > 0 {
					cs.Paths = append(cs.Paths, strings.Join(run, " "))
				}
				run = nil
				continue
			}
			x, y := px(i), py(v)
			run = append(run, fmt.Sprintf("%.1f,%.1f", x, y))
			cs.Points = append(cs.Points, chartPoint{X: x, Y: y, Title: fmt.Sprintf("%s, %s %s: %s", s.Name, c.XLabel, c.X[i], formatNumber(v))})
		}
		if len(run) > 0 {
			cs.Paths = append(cs.Paths, strings.Join(run, " "))
		}
		cs.LegendX = lc.Plot.X + (si%3)*200
		cs.LegendX2, cs.LegendTextX = cs.LegendX+24, cs.LegendX+30
		cs.LegendY = h + 12 + 24*(si/3)
		lc.Series = append(lc.Series, cs)
	}
	return lc
}
