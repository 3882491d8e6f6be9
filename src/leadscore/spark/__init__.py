"""Apache Spark as the engine when one machine is not enough (``--engine spark``)."""
