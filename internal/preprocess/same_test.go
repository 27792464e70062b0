package preprocess

import (
	"reflect"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/onnx"
)

// TestSameTensorSeesEveryField changes each field of a Spec in turn: SameTensor must notice every
// change except to Source (and the private cache), so a field added later cannot be forgotten.
func TestSameTensorSeesEveryField(t *testing.T) {
	base, err := Resolve(config.Preprocess{Preset: "imagenet"}, onnx.TensorInfo{Name: "x", DType: onnx.Float32, Shape: []int64{-1, 3, 224, 224}})
	if err != nil {
		t.Fatal(err)
	}
	if !base.SameTensor(base) {
		t.Fatal("a spec differs from itself")
	}
	typ := reflect.TypeOf(base)
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		changed := base
		changed.Dims = append([]int64(nil), base.Dims...)
		v := reflect.ValueOf(&changed).Elem().Field(i)
		switch v.Kind() {
		case reflect.Int:
			v.SetInt(v.Int() + 1)
		case reflect.Float64:
			v.SetFloat(v.Float() + 0.5)
		case reflect.String:
			v.SetString(v.String() + "x")
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.Array:
			v.Index(0).SetFloat(v.Index(0).Float() + 0.5)
		case reflect.Slice:
			v.Index(0).SetInt(v.Index(0).Int() + 1)
		default:
			t.Fatalf("field %s of kind %s: teach this test to change it", f.Name, v.Kind())
		}
		if same := base.SameTensor(changed); same != (f.Name == "Source") {
			t.Errorf("changing %s: SameTensor = %v", f.Name, same)
		}
	}
}
