package report

// AttackRun is one adversarial attack against one model in report.json: the curve a team picks a
// query budget from, and every attacked image, so that any figure of robust.adversarial can be
// recomputed and any single image audited. The markdown and HTML writers leave it out (the
// check's details summarise it).
//
// Distances are in [0,1] pixel units of the model's input. A nil pointer is a value that does not
// exist (no adversarial image found, no success, no epsilon budget): JSON has no infinity.
type AttackRun struct {
	Attack string `json:"attack"` // "square" or "hopskipjump"
	Model  string `json:"model"`  // "candidate" or "baseline"
	Norm   string `json:"norm"`   // the budget's norm: "linf" or "l2"
	// Epsilon is the perturbation budget in Norm; nil: none (any adversarial image counts).
	Epsilon    *float64 `json:"epsilon"`
	MaxQueries int      `json:"max_queries"` // per image
	// Curve is read at 10, 30, 100, 300, 1000, ... queries per image and at MaxQueries.
	Curve  []AttackCurvePoint `json:"curve"`
	Images []AttackImage      `json:"images"`
}

// AttackCurvePoint is what an attacker with a given number of queries per image achieves, counting
// only 8-bit images that the model misclassified when they were checked again.
type AttackCurvePoint struct {
	Queries int `json:"queries"`
	// MedianL2 is the median, over the attacked images, of the L2 distance of the adversarial image
	// the attack held after Queries queries; nil while half the images or more had none.
	MedianL2 *float64 `json:"median_l2"`
	// SuccessRate is the share of the attacked images broken within Epsilon by then.
	SuccessRate float64 `json:"success_rate"`
}

// AttackImage is one sampled image under one attack.
type AttackImage struct {
	Path  string `json:"path"`
	Label string `json:"label"`
	// Skipped: the model already misclassified the image at its input size; it was not attacked.
	Skipped bool `json:"skipped,omitempty"`
	Queries int  `json:"queries"` // spent on this image, the clean query included
	// Success: the attack found an unrounded (float) adversarial image within Epsilon.
	Success bool `json:"success"`
	// Success8bit: the adversarial image rounded to 8 bits, as a file carries it, is within Epsilon
	// and still misclassified when the model sees it again. Robust accuracy counts these.
	Success8bit bool `json:"success_8bit"`
	// QueriesToSuccess: queries spent when the first 8-bit success was found; QueriesToFinal: when
	// the returned image was. Nil when there is none.
	QueriesToSuccess *int `json:"queries_to_success"`
	QueriesToFinal   *int `json:"queries_to_final"`
	// L2 and Linf are the distances of the returned 8-bit image, RawL2 and RawLinf those of the
	// closest unrounded adversarial image found; nil when none was found.
	L2      *float64 `json:"l2"`
	Linf    *float64 `json:"linf"`
	RawL2   *float64 `json:"raw_l2"`
	RawLinf *float64 `json:"raw_linf"`
	// Predicted is the model's class for the returned 8-bit image when checked again, Confidence
	// its probability; empty and 0 when there is none.
	Predicted  string  `json:"predicted,omitempty"`
	Confidence float64 `json:"confidence,omitempty"`
}
