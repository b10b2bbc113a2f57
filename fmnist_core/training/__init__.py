"""Training: the job, its events, the fair queue, executors (process, warm, Ray), the worker, the Keras callback."""
