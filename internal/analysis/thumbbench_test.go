package analysis

import "testing"

func BenchmarkMakeThumb(b *testing.B) {
	digit := readIDX(b, "t10k-images-idx3-ubyte.gz")[0]
	pic := photo(224, 224)
	b.Run("digit", func(b *testing.B) {
		for b.Loop() {
			MakeThumb(digit)
		}
	})
	b.Run("photo", func(b *testing.B) {
		for b.Loop() {
			MakeThumb(pic)
		}
	})
}
