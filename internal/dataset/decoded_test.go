package dataset

import (
	"context"
	"sync"
	"testing"
)

// Decoded sees every readable image once, by listing index, with its pixels; DropPixels then
// keeps none of them.
func TestDecodedHookAndDropPixels(t *testing.T) {
	dir := t.TempDir()
	pngFile(t, dir, "a/1.png", 1)
	writeFile(t, dir, "a/2.png", []byte("not an image"))
	pngFile(t, dir, "b/3.png", 3)
	pngFile(t, dir, "b/4.png", 4)
	l, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, drop := range []bool{false, true} {
		var mu sync.Mutex
		seen := map[int]string{}
		ds, err := Load(context.Background(), l, Options{MaxUnreadable: 0.5, DropPixels: drop, Decoded: func(entry int, it *Item) {
			if it.Image == nil || it.Image.Width != 4 {
				t.Errorf("entry %d reached the hook without its pixels", entry)
			}
			mu.Lock()
			seen[entry] = it.Path
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]string{0: "a/1.png", 2: "b/3.png", 3: "b/4.png"}
		if len(seen) != len(want) {
			t.Errorf("drop %v: hook saw %v, want %v", drop, seen, want)
		}
		for i, p := range want {
			if seen[i] != p {
				t.Errorf("drop %v: entry %d was %q, want %q", drop, i, seen[i], p)
			}
		}
		if len(ds.Items) != 3 || len(ds.Unreadable) != 1 {
			t.Fatalf("drop %v: %d items, %d unreadable", drop, len(ds.Items), len(ds.Unreadable))
		}
		for _, it := range ds.Items {
			if (it.Image == nil) != drop {
				t.Errorf("drop %v: %s has image %v", drop, it.Path, it.Image != nil)
			}
		}
		if drop && (ds.StoreBytes != 0 || ds.ChannelCounts() != [4]int{}) {
			t.Errorf("a DropPixels load holds %d bytes, channels %v", ds.StoreBytes, ds.ChannelCounts())
		}
	}
}
