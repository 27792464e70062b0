package dataset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registered decoders: every format cvgate reads
	_ "image/jpeg"
	_ "image/png"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/cvgate/cvgate/internal/audit"
	"github.com/cvgate/cvgate/internal/imaging"
)

// Item is one decoded image with its label.
type Item struct {
	Entry
	Label  int // output index; -1 when unlabelled
	Size   int64
	SHA256 [32]byte // of the file's bytes
	Image  *imaging.Image
}

// Problem is a file that could not be used.
type Problem struct {
	Path   string
	Reason string
}

// Dataset is a decoded, labelled image set.
type Dataset struct {
	Source     string
	Kind       string
	Classes    *Classes // nil when unlabelled
	Attributes []string
	Items      []Item // readable images, in listing order
	Unreadable []Problem
	Decode     time.Duration
	// StoreBytes is the memory held by decoded pixels.
	StoreBytes int64
}

// Options configure Load.
type Options struct {
	// Classes maps labels to output indices; nil loads without labels (drift's current set).
	Classes *Classes
	// MaxUnreadable is the share of images that may fail to decode before Load gives up.
	MaxUnreadable float64
	// Workers decoding in parallel; 0: one per core.
	Workers int
	// Each is called once per decoded image, from the decoding goroutines, so that per-image work
	// (image properties, hashes) shares the decoding pass. i is the image's index in Items.
	Each func(i int, it *Item)
	// Decoded is called once per decoded image from the decoding goroutines, right after the
	// image is decoded and before the next one is: entry is the image's index in the listing
	// (unreadable images are dropped only later, so this is not its index in Items). Work done
	// here reads pixels that are still in cache, and it is the only hook that sees the pixels of
	// a DropPixels load.
	Decoded func(entry int, it *Item)
	// DropPixels releases every image's pixels right after Decoded has seen it: Items keep their
	// path, label, size and file hash, with a nil Image. For sets that are only hashed, such as
	// the training set of data.leakage, so that memory holds one image per worker, not the set.
	DropPixels bool
	// Progress is told about each decoded image; may be nil.
	Progress func(done, total int)
}

// Load decodes every listed image once, in parallel. Unreadable images are recorded, not fatal,
// unless they exceed opts.MaxUnreadable of the total.
func Load(ctx context.Context, l *Listing, opts Options) (*Dataset, error) {
	start := time.Now()
	if len(l.Entries) == 0 {
		return nil, fmt.Errorf("decode data %q: the listing has no images", l.Source)
	}
	ds := &Dataset{Source: l.Source, Kind: l.Kind, Classes: opts.Classes, Attributes: l.Attributes}
	labels := make([]int, len(l.Entries))
	for i := range labels {
		labels[i] = -1
	}
	if opts.Classes != nil {
		var err error
		if labels, err = opts.Classes.Resolve(l); err != nil {
			return nil, err
		}
	}
	r := l.reader
	if r == nil {
		r = &Reader{}
	}
	var store *storeBudget
	if !opts.DropPixels {
		store = &storeBudget{limit: r.Limits.storeBytes()}
	}
	items := make([]Item, len(l.Entries))
	errs := make([]error, len(l.Entries))
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(items) || ctx.Err() != nil || store.isFull() {
					return
				}
				items[i] = Item{Entry: l.Entries[i], Label: labels[i]}
				errs[i] = r.decodeFile(&items[i], store)
				if errs[i] == nil && opts.Decoded != nil {
					opts.Decoded(i, &items[i])
				}
				if opts.DropPixels {
					items[i].Image = nil
				}
				if opts.Progress != nil {
					opts.Progress(int(done.Add(1)), len(items))
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if store.isFull() {
		return nil, fmt.Errorf("decode data %q: %w", l.Source, &StoreFullError{Limit: store.limit})
	}
	for i := range items {
		if errs[i] != nil {
			ds.Unreadable = append(ds.Unreadable, Problem{Path: items[i].Path, Reason: errs[i].Error()})
			continue
		}
		ds.Items = append(ds.Items, items[i])
		if items[i].Image != nil {
			ds.StoreBytes += int64(len(items[i].Image.Pix))
		}
	}
	if len(ds.Items) == 0 {
		return nil, fmt.Errorf("decode data %q: none of the %d images could be read (first: %s: %s)", l.Source, len(items), quoteOdd(ds.Unreadable[0].Path), ds.Unreadable[0].Reason)
	}
	if share := float64(len(ds.Unreadable)) / float64(len(items)); share > opts.MaxUnreadable {
		return nil, fmt.Errorf("decode data %q: %d of %d images are unreadable (%.1f%%, over max_unreadable %.1f%%); first: %s",
			l.Source, len(ds.Unreadable), len(items), 100*share, 100*opts.MaxUnreadable, problemPreview(ds.Unreadable, 5))
	}
	if opts.Each != nil {
		// Per-image analysis runs in parallel too, over the readable images' final indices.
		var wg sync.WaitGroup
		var next atomic.Int64
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= len(ds.Items) {
						return
					}
					opts.Each(i, &ds.Items[i])
				}
			}()
		}
		wg.Wait()
	}
	ds.Decode = time.Since(start)
	return ds, nil
}

func problemPreview(ps []Problem, n int) string {
	var parts []string
	for i, p := range ps {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more", len(ps)-n))
			break
		}
		parts = append(parts, quoteOdd(p.Path)+": "+p.Reason)
	}
	return strings.Join(parts, "; ")
}

// decodeFile reads and decodes one image through r, reserving its pixels in the store first.
func (r *Reader) decodeFile(it *Item, store *storeBudget) error {
	raw, err := r.Root.ReadFile(it.File, r.Limits.fileBytes())
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	it.Size = int64(len(raw))
	it.SHA256 = sha256.Sum256(raw)
	if len(raw) == 0 {
		return errors.New("empty file")
	}
	cfg, _, err := r.Limits.checkHeader(raw)
	if err != nil {
		return err
	}
	// Reserve as RGB (the most an image can take in the store), then return what gray saves.
	want := int64(cfg.Width) * int64(cfg.Height) * 3
	if err := store.reserve(want); err != nil {
		return err
	}
	img, err := decodeChecked(raw)
	if err != nil {
		store.release(want)
		return err
	}
	store.release(want - int64(len(img.Pix)))
	it.Image = img
	return nil
}

// Decode decodes an image file's bytes into the compact store format, under DefaultLimits' pixel
// and aspect bounds.
func Decode(raw []byte) (*imaging.Image, error) { return DecodeWithin(raw, Limits{}) }

// DecodeWithin decodes an image file's bytes under lim's pixel and aspect bounds: the header is
// read first, and an image beyond them is refused before its pixels are allocated.
func DecodeWithin(raw []byte, lim Limits) (*imaging.Image, error) {
	if len(raw) == 0 {
		return nil, errors.New("empty file")
	}
	if _, _, err := lim.checkHeader(raw); err != nil {
		return nil, err
	}
	return decodeChecked(raw)
}

// decodeChecked decodes bytes whose header passed checkHeader.
func decodeChecked(raw []byte) (*imaging.Image, error) {
	src, format, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, describeDecodeError(format, raw, err)
	}
	b := src.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, fmt.Errorf("%s has no pixels (%dx%d)", format, b.Dx(), b.Dy())
	}
	return imaging.FromStd(src), nil
}

// describeDecodeError says what is wrong with a file the decoders refused, in the user's words.
func describeDecodeError(format string, raw []byte, err error) error {
	switch {
	case errors.Is(err, image.ErrFormat):
		return errors.New("not an image in a format cvgate reads (PNG, JPEG, GIF, BMP, WebP, TIFF)")
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || lacksEndMarker(format, raw):
		return errors.New("truncated file (unexpected end of data)")
	}
	return fmt.Errorf("corrupt %s: %v", format, err)
}

// storeBudget is the decoded store's remaining room, shared by the decoding goroutines. A nil
// budget (pixels are dropped after hashing) reserves nothing.
type storeBudget struct {
	limit int64
	used  atomic.Int64
	full  atomic.Bool
}

func (s *storeBudget) reserve(n int64) error {
	if s == nil {
		return nil
	}
	if used := s.used.Add(n); used > s.limit {
		s.used.Add(-n)
		s.full.Store(true)
		return &StoreFullError{Limit: s.limit}
	}
	return nil
}

func (s *storeBudget) isFull() bool { return s != nil && s.full.Load() }

func (s *storeBudget) release(n int64) {
	if s != nil {
		s.used.Add(-n)
	}
}

// StoreFullError says that the decoded images would not fit the store's budget.
type StoreFullError struct {
	Limit int64
}

func (e *StoreFullError) Error() string {
	return fmt.Sprintf("the decoded images would take more than %d MiB (runtime.memory_mb); sample the data or raise the limit", e.Limit>>20)
}

// endMarkers are the bytes a complete file of each format ends with. Decoders report a cut file
// in their own words (the PNG decoder says "not enough pixel data", the GIF decoder hides the EOF
// in a message), so a file that failed to decode and lacks its end marker is called truncated.
var endMarkers = map[string][]byte{
	"png":  {'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82},
	"jpeg": {0xFF, 0xD9},
	"gif":  {0x3B},
}

func lacksEndMarker(format string, raw []byte) bool {
	m, ok := endMarkers[format]
	return ok && !bytes.HasSuffix(raw, m)
}

// Digest is the sha256 of the canonical listing of the readable images (path, size, file hash
// and label of each, sorted by path; see audit.DatasetDigest), so that an audit can tell whether
// two runs saw the same data. Unreadable files are listed in the report instead.
func (d *Dataset) Digest() (string, error) {
	entries := make([]audit.FileEntry, len(d.Items))
	for i, it := range d.Items {
		label := ""
		if it.Label >= 0 && d.Classes != nil {
			label = d.Classes.Names[it.Label]
		}
		entries[i] = audit.FileEntry{Path: it.Path, Size: it.Size, SHA256: hex.EncodeToString(it.SHA256[:]), Label: label}
	}
	sum, err := audit.DatasetDigest(entries)
	if err != nil {
		return "", fmt.Errorf("hash data %q: %w", d.Source, err)
	}
	return sum, nil
}

// PerClass counts images per class index.
func (d *Dataset) PerClass() []int {
	if d.Classes == nil {
		return nil
	}
	out := make([]int, len(d.Classes.Names))
	for _, it := range d.Items {
		if it.Label >= 0 {
			out[it.Label]++
		}
	}
	return out
}

// ChannelCounts counts images by channel count (index 1 and 3).
func (d *Dataset) ChannelCounts() [4]int {
	var c [4]int
	for _, it := range d.Items {
		if it.Image != nil { // a DropPixels load keeps no pixels
			c[it.Image.Channels]++
		}
	}
	return c
}
