"""How device messages reach the gateway: MQTT (``mqtt``), DC-09 alarm receivers (``dc09``)
and signed HTTP batches from vendor clouds (``http``). Each acknowledges only what the gateway
has made durable."""
