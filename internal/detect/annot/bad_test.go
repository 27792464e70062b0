package annot

import (
	"path/filepath"
	"strings"
	"testing"
)

const cocoOK = `{"images":[{"id":1,"file_name":"a.png","width":8,"height":8}],
"annotations":[{"id":1,"image_id":1,"category_id":5,"bbox":[1,1,2,2],"area":4,"iscrowd":0}],
"categories":[{"id":5,"name":"thing"}]}`

// cocoWith replaces the annotation list of cocoOK.
func cocoWith(anns string) string {
	i, j := strings.Index(cocoOK, `"annotations":[`), strings.Index(cocoOK, `],
"categories"`)
	return cocoOK[:i] + `"annotations":[` + anns + cocoOK[j:]
}

// TestBadCOCO checks that each kind of broken COCO file is an error naming the file, the
// annotation or image, and the fix.
func TestBadCOCO(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		files map[string]string
		lim   Limits
		want  []string
	}{
		{"image not in the folder", cocoOK, map[string]string{"b.png": "8x8"}, Limits{},
			[]string{"1 of the 1 images in images[] are not in the data folder (a.png)", "1 images in the data folder are not in images[] (b.png)"}},
		{"image in the folder not listed", strings.Replace(cocoOK, `"images":[`, `"images":[{"id":2,"file_name":"sub/c.png","width":8,"height":8},`, 1),
			map[string]string{"a.png": "8x8", "sub/c.png": "8x8", "b.png": "8x8"}, Limits{}, []string{"1 images in the data folder are not in images[] (b.png)", "with no annotations if they are negatives"}},
		{"ambiguous file name", cocoOK, map[string]string{"x/a.png": "8x8", "y/a.png": "8x8"}, Limits{}, []string{"match more than one image", "x/a.png, y/a.png"}},
		{"bbox of three", cocoWith(`{"id":9,"image_id":1,"category_id":5,"bbox":[1,1,2],"iscrowd":0}`), nil, Limits{}, []string{"annotation id 9: bbox has 3 numbers, want 4"}},
		{"NaN from Python", cocoWith(`{"id":9,"image_id":1,"category_id":5,"bbox":[1,NaN,2,2],"iscrowd":0}`), nil, Limits{}, []string{"line 2 column", "NaN is not a JSON number"}},
		{"bbox as strings", cocoWith(`{"id":9,"image_id":1,"category_id":5,"bbox":["1",1,2,2],"iscrowd":0}`), nil, Limits{}, []string{"line 2", `field "annotations.bbox" holds a JSON string`}},
		{"negative width", cocoWith(`{"id":9,"image_id":1,"category_id":5,"bbox":[1,1,-2,2],"iscrowd":0}`), nil, Limits{}, []string{"annotation id 9", "negative width", "not corners"}},
		{"negative area", cocoWith(`{"id":9,"image_id":1,"category_id":5,"bbox":[1,1,2,2],"area":-3}`), nil, Limits{}, []string{"annotation id 9: area -3"}},
		{"unknown image", cocoWith(`{"id":9,"image_id":4,"category_id":5,"bbox":[1,1,2,2]}`), nil, Limits{}, []string{"annotation id 9: image_id 4 is not in images[]"}},
		{"unknown category", cocoWith(`{"id":9,"image_id":1,"category_id":6,"bbox":[1,1,2,2]}`), nil, Limits{}, []string{"annotation id 9: category_id 6 is not in categories[]"}},
		{"annotation without id", cocoWith(`{"image_id":1,"category_id":5,"bbox":[1,1,2,2]}`), nil, Limits{}, []string{"annotation #1 (image_id 1) has no id"}},
		{"duplicate annotation id", cocoWith(`{"id":9,"image_id":1,"category_id":5,"bbox":[1,1,2,2]},{"id":9,"image_id":1,"category_id":5,"bbox":[2,2,2,2]}`), nil, Limits{}, []string{"annotation id 9 is used twice"}},
		{"odd iscrowd", cocoWith(`{"id":9,"image_id":1,"category_id":5,"bbox":[1,1,2,2],"iscrowd":2}`), nil, Limits{}, []string{"iscrowd is 2: want 0 or 1"}},
		{"duplicate image id", strings.Replace(cocoOK, `"images":[`, `"images":[{"id":1,"file_name":"b.png","width":8,"height":8},`, 1), nil, Limits{}, []string{"image id 1 is listed twice"}},
		{"duplicate file name", strings.Replace(cocoOK, `"images":[`, `"images":[{"id":2,"file_name":"a.png","width":8,"height":8},`, 1), nil, Limits{}, []string{`file_name "a.png" is listed twice in images[] (ids 2 and 1)`}},
		{"duplicate category", strings.Replace(cocoOK, `"categories":[`, `"categories":[{"id":5,"name":"other"},`, 1), nil, Limits{}, []string{"category id 5 is listed twice"}},
		{"no size", strings.Replace(cocoOK, `"width":8,"height":8`, `"width":0`, 1), nil, Limits{}, []string{"image id 1 (a.png) has no width/height"}},
		{"not instances", `{"info":{}}`, nil, Limits{}, []string{`needs "images" and "categories"`}},
		{"too big", cocoOK, nil, Limits{MaxJSONBytes: 100}, []string{"larger than the 100-byte limit"}},
		{"too many objects", cocoWith(`{"id":8,"image_id":1,"category_id":5,"bbox":[1,1,2,2]},{"id":9,"image_id":1,"category_id":5,"bbox":[2,2,2,2]}`), nil, Limits{MaxObjectsPerImage: 1}, []string{"more than 1 objects"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"annotations/instances_x.json": tt.json}
			for k, v := range tt.files {
				files[k] = v
			}
			root := writeFiles(t, files)
			opt := Options{Limits: tt.lim}
			if tt.files != nil {
				opt.Images = listImages(t, root)
			}
			_, err := ReadCOCO(filepath.Join(root, "annotations/instances_x.json"), opt)
			checkErr(t, err, append(tt.want, "instances_x.json"))
		})
	}
}

func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\ndoes not mention %q", err, w)
		}
	}
}

func TestBadYOLO(t *testing.T) {
	base := func(label string) map[string]string {
		return map[string]string{"data.yaml": "names: [a, b]\n", "images/x.png": "10x20", "labels/x.txt": label}
	}
	tests := []struct {
		name  string
		files map[string]string
		lim   Limits
		want  []string
	}{
		{"class beyond the names", base("2 0.5 0.5 0.1 0.1\n"), Limits{}, []string{"labels/x.txt line 1", "class 2 is beyond the 2 classes in data.yaml (0..1)"}},
		{"pixel coordinates", base("1 0.5 0.5 0.1 0.1\n0 5 10 2 3\n"), Limits{}, []string{"labels/x.txt line 2", "coordinate 5 is outside 0..1", "divide by 10x20"}},
		{"negative coordinate", base("0 -0.2 0.5 0.1 0.1\n"), Limits{}, []string{"line 1", "outside 0..1"}},
		{"unparsable number", base("0 0.5 half 0.1 0.1\n"), Limits{}, []string{"line 1", `"half" is not a finite number`}},
		{"NaN", base("0 0.5 nan 0.1 0.1\n"), Limits{}, []string{"line 1", `"nan" is not a finite number`}},
		{"fractional class", base("1.5 0.5 0.5 0.1 0.1\n"), Limits{}, []string{"line 1", `class "1.5" is not a whole number`}},
		{"prediction line", base("0 0.5 0.5 0.1 0.1 0.93\n"), Limits{}, []string{"line 1", "5 numbers after the class"}},
		{"no names", map[string]string{"images/x.png": "10x20", "labels/x.txt": ""}, Limits{}, []string{"no class names: add data.yaml"}},
		{"names with a gap", map[string]string{"data.yaml": "names:\n  0: a\n  2: c\n", "images/x.png": "10x20", "labels/x.txt": ""}, Limits{}, []string{"data.yaml", "names has no class 1"}},
		{"nc disagrees", map[string]string{"data.yaml": "nc: 3\nnames: [a, b]\n", "images/x.png": "10x20", "labels/x.txt": ""}, Limits{}, []string{"nc is 3 but names lists 2"}},
		{"duplicate names", map[string]string{"classes.txt": "a\nb\na\n", "images/x.png": "10x20", "labels/x.txt": ""}, Limits{}, []string{"classes.txt", `classes 0 and 2 are both named "a"`}},
		{"gap in names file", map[string]string{"classes.txt": "a\n\nb\n", "images/x.png": "10x20", "labels/x.txt": ""}, Limits{}, []string{"line 2 is empty"}},
		{"label file too big", base(strings.Repeat("0 0.5 0.5 0.1 0.1\n", 10)), Limits{MaxFileBytes: 50}, []string{"labels/x.txt", "50-byte limit"}},
		{"too many objects", base("0 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.1 0.1\n"), Limits{MaxObjectsPerImage: 1}, []string{"line 2", "more than 1 objects"}},
		{"no label files at all", map[string]string{"data.yaml": "names: [a]\n", "images/x.png": "10x20"}, Limits{}, []string{"none of the 1 images has a label file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeFiles(t, tt.files)
			opt := options(t, root)
			opt.Limits = tt.lim
			_, err := ReadYOLO(root, opt)
			checkErr(t, err, tt.want)
		})
	}
	// Valid corner cases: a polygon line, an empty label file (a negative), slack at 1.
	root := writeFiles(t, map[string]string{"data.yaml": "names: [a, b]\n", "images/x.png": "10x20", "labels/x.txt": "1 0.1 0.1 0.5 0.2 0.3 0.9\n0 0.5 0.5 1.0000001 0.2\n",
		"images/y.png": "4x4", "labels/y.txt": "\n"})
	set, err := ReadYOLO(root, options(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Images[0].Objects[0].Box; !boxNear(got, boxOf(1, 2, 5, 18), 1e-9) {
		t.Errorf("polygon box = %+v", got)
	}
	if len(set.Images[1].Objects) != 0 || set.Images[1].Objects == nil {
		t.Errorf("empty label file: %+v", set.Images[1])
	}
}

func TestBadVOC(t *testing.T) {
	xml := func(objects string) string {
		return "<annotation><size><width>10</width><height>10</height></size>" + objects + "</annotation>"
	}
	obj := func(name, box string) string {
		return "<object><name>" + name + "</name><bndbox>" + box + "</bndbox></object>"
	}
	ok := "<xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax>"
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"name not in the class list", map[string]string{"classes.txt": "cat\n", "JPEGImages/x.png": "10x10", "Annotations/x.xml": xml(obj("cat", ok) + obj("dgo", ok))},
			[]string{"Annotations/x.xml object 2", `name "dgo" is not among the 1 classes of classes.txt`}},
		{"swapped corners", map[string]string{"JPEGImages/x.png": "10x10", "Annotations/x.xml": xml(obj("cat", "<xmin>5</xmin><ymin>1</ymin><xmax>2</xmax><ymax>5</ymax>"))},
			[]string{"Annotations/x.xml object 1 (cat)", "corners are swapped"}},
		{"bad number", map[string]string{"JPEGImages/x.png": "10x10", "Annotations/x.xml": xml(obj("cat", "<xmin>one</xmin><ymin>1</ymin><xmax>2</xmax><ymax>5</ymax>"))},
			[]string{"object 1 (cat)", `bndbox value "one"`}},
		{"no bndbox", map[string]string{"JPEGImages/x.png": "10x10", "Annotations/x.xml": xml("<object><name>cat</name></object>")},
			[]string{"object 1 (cat): no <bndbox>"}},
		{"not XML", map[string]string{"JPEGImages/x.png": "10x10", "Annotations/x.xml": "{}"}, []string{"Annotations/x.xml: not VOC XML"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeFiles(t, tt.files)
			_, err := ReadVOC(root, options(t, root))
			checkErr(t, err, tt.want)
		})
	}
	// Without a names file, classes are the sorted object names; the size comes from the image
	// when the XML has none.
	root := writeFiles(t, map[string]string{"a.png": "12x9", "a.xml": "<annotation>" + obj("zebra", ok) + obj("ant", ok) + "</annotation>"})
	set, err := ReadVOC(root, options(t, root))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(set.Classes, ",") != "ant,zebra" || set.Images[0].Objects[0].Class != 1 || set.Images[0].Width != 12 {
		t.Errorf("derived classes %v, objects %+v, width %d", set.Classes, set.Images[0].Objects, set.Images[0].Width)
	}
	if b := set.Images[0].Objects[0].Box; b != boxOf(0, 0, 5, 5) {
		t.Errorf("VOC 1-based [1,5] box = %+v, want [0,5]", b)
	}
}

func TestBadResults(t *testing.T) {
	root := writeFiles(t, map[string]string{"gt.json": cocoOK,
		"unknown_image.json": `[{"image_id":2,"category_id":5,"bbox":[1,1,2,2],"score":0.5}]`,
		"unknown_cat.json":   `[{"image_id":1,"category_id":1,"bbox":[1,1,2,2],"score":0.5}]`,
		"no_score.json":      `[{"image_id":1,"category_id":5,"bbox":[1,1,2,2]}]`,
		"ok.json":            `[{"image_id":1,"category_id":5,"bbox":[1,1,2,2],"score":0.5}]`,
	})
	set, err := ReadCOCO(filepath.Join(root, "gt.json"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"unknown_image.json": "image_id is not in the ground truth", "unknown_cat.json": "category_id 1 is not a ground-truth category",
		"no_score.json": "score is missing",
	} {
		_, err := ReadCOCOResults(filepath.Join(root, file), set, Limits{})
		checkErr(t, err, []string{file, want})
	}
	dets, err := ReadCOCOResults(filepath.Join(root, "ok.json"), set, Limits{})
	if err != nil || len(dets[0]) != 1 || dets[0][0].Box != boxOf(1, 1, 3, 3) || dets[0][0].Class != 0 {
		t.Errorf("results = %+v, %v", dets, err)
	}
}
