// Package perturb makes deterministic, seeded corruptions and transforms of decoded images for
// cvgate's robustness checks.
//
// Everything works on [imaging.Image] values (8-bit gray or RGB, any size) before model
// preprocessing, so that a model sees what a camera or an image file would deliver: the output has
// the size and channel count of the input and is quantized to 8 bits again.
//
// # Corruptions
//
// [Names] lists the 15 ImageNet-C corruptions of Hendrycks & Dietterich (ICLR 2019) and their four
// extras, each with five severities. [Corruptor.Apply] writes one of them into a caller-owned
// image, reusing the Corruptor's working buffers; a Corruptor is not safe for concurrent use, so
// give each goroutine its own. The random stream depends only on the seed and the corruption's
// name, never on goroutine scheduling or on the severity: the five severities of one image share
// their random draws, so damage grows with severity instead of being redrawn.
//
// Parameters follow the reference tables (shared/reference/imagenet-c.md). Where the reference
// uses external data (the frost photographs) or library code (ImageMagick's motion blur, OpenCV's
// Canny and distance transform for spatter), this package makes its own procedural equivalent;
// the doc comment of each function says how.
//
// # Image size
//
// The reference parameters are tuned for 224x224 images. Parameters given in pixels (blur sigmas
// and radii, glass-blur displacement, motion-blur length, snow flake size and streaks, spatter
// smoothing, elastic smoothing and displacement, the frost texture's scale) are multiplied by
//
//	s = max(min(width, height) / 224, 1/4)
//
// so that a 448 px image is blurred twice as far as a 224 px one. The floor of 1/4 makes images
// smaller than 56 px (MNIST's 28x28 in particular) behave like 56 px images: proportional scaling
// would shrink most blurs below half a pixel, which 8-bit quantization erases. Past the floor,
// each parameter keeps a minimum that still does visible damage:
//
//   - Gaussian sigmas of gaussian_blur and glass_blur: at least 0.5 px.
//   - defocus_blur's disk radius: at least 1 px (fractional radii are fine: x²+y² <= r²).
//   - motion-blur radius (also snow's streaks): rounded, at least 1 px.
//   - snow's flake magnification: at least 1 (one noise cell per pixel).
//   - glass_blur's displacement: rounded down, at least 1 px; its number of shuffle passes then
//     changes so that the shuffle's displacement variance, passes*delta², still scales with s²
//     (a fractional last pass swaps each pixel with that probability).
//   - elastic_transform's smoothing sigma: at least 1 px; alpha then grows by the same factor,
//     since the displacement is proportional to alpha/sigma.
//   - spatter's liquid layer is rescaled to the spread the reference's smoothing gives at 224 px,
//     so that the share of the image the liquid covers does not depend on the size.
//
// elastic_transform's parameters, which the reference gives as multiples of the side, use 224*s as
// the side. Parameters the reference states relative to the image (pixelate's resize factor,
// zoom-blur factors, the plasma fractal of fog, which spans the image) are used as they are.
//
// # Deviations from the reference implementation
//
//   - elastic_transform uses monotone tuples: the reference's first two are dominated by a large
//     random affine warp and damage more than its third (see elasticParams).
//   - snow and spatter tuples, which the reference table elides, are those of the reference code;
//     spatter's water shading is procedural (see Corruptor.spatter).
//   - Outputs are rounded to the nearest 8-bit level (the reference truncates).
//   - Sampled Gaussian kernels stop at 3 sigma (scikit-image: 4); sigmas of 2 px and more use
//     three extended box passes with the exact variance.
//   - zoom_blur magnifies about the exact centre; elastic_transform composes its affine and
//     elastic warps into one bilinear resampling.
//   - Normal deviates come from a 4096-cell quantile table with exact tails; shot noise samples
//     the exact per-level Poisson distribution.
//   - The frost texture is procedural, built once per process from fixed seeds and shared
//     read-only.
//
// # Colour corruptions on gray images
//
// A gray image is treated as an RGB image with three equal channels, corrupted, and turned back
// into BT.601 luma. In practice: brightness adds to the value directly; saturate leaves gray
// pixels gray and, where the reference offset is non-zero (severities 4 and 5), darkens them as
// the reference's red tint of gray pixels would after conversion to luma; frost, snow and spatter
// use the luma of their colours. The noises draw one value per channel, so a gray image gets one
// draw per pixel.
//
// # Transforms and abnormal inputs
//
// [ParseTransform] turns specs such as "rotate:10" or "shift:0.1,0" into a [Transform] for
// invariance checks. [Synthesize] and [Derive] make inputs a classifier is not built for (blank,
// constant, noise, inverted, over-saturated images); [AbnormalNames] lists them.
package perturb
