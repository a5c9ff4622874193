"""Input pipelines over the project's TFRecord shards: tf.data and DALI readers, shared augmentation."""
