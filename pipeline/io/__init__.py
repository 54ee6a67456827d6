"""Where frames come from and where they go: file, Drive and stream sources; the ZIP, video and stream sinks; output paths, disk space, detections.csv."""
