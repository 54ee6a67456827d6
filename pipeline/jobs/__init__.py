"""What drives the stages: the engine (threads, bounded queues, one stop event), the memory budget, the file job and run(), the live masker and live job, the WebRTC track."""
