"""Standard alarm-receiving-centre protocols: SIA DC-09 framing (via pysiaalarm) carrying SIA-DCS
or Ademco Contact ID payloads, and Contact ID frames forwarded by DTMF receivers. The mapping
from every supported protocol code to Yiyang's events is in ``codes`` (documented in
docs/protocols.md)."""
