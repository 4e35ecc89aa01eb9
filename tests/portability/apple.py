"""Builds Apple Health exports (export.xml, export.zip) the way the iPhone writes them."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import quoteattr

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 13 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record
  type          CDATA #REQUIRED
  unit          CDATA #IMPLIED
  value         CDATA #IMPLIED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!ELEMENT MetadataEntry EMPTY>
<!ATTLIST MetadataEntry
  key   CDATA #REQUIRED
  value CDATA #REQUIRED
>
]>
<HealthData locale="en_GB">
 <ExportDate value="2026-03-05 08:00:00 +0100"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="1985-03-14"
     HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexFemale"/>
"""
FOOTER = "</HealthData>\n"

IPHONE = "Dana’s iPhone"
WATCH = "Dana’s Apple Watch"
DEVICES = {
    IPHONE: "<<HKDevice: 0x283ec0820>, name:iPhone, manufacturer:Apple Inc., model:iPhone, "
    "hardware:iPhone14,5, software:17.3>",
    WATCH: "<<HKDevice: 0x283ec0a10>, name:Apple Watch, manufacturer:Apple Inc., model:Watch, "
    "hardware:Watch6,1, software:10.3>",
}


def record(
    rtype: str,
    value: str | float,
    start: str,
    end: str | None = None,
    *,
    unit: str | None = None,
    source: str = IPHONE,
    metadata: dict[str, str] | None = None,
    indent: str = " ",
) -> str:
    short = rtype if rtype.startswith("HK") else f"HKQuantityTypeIdentifier{rtype}"
    attrs = {"type": short, "sourceName": source, "sourceVersion": "17.3"}
    if unit is not None:
        attrs["unit"] = unit
    if source in DEVICES:
        attrs["device"] = DEVICES[source]
    attrs.update(creationDate=end or start, startDate=start, endDate=end or start)
    attrs["value"] = str(value)
    text = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
    if not metadata:
        return f"{indent}<Record {text}/>\n"
    entries = "".join(
        f"{indent}  <MetadataEntry key={quoteattr(k)} value={quoteattr(v)}/>\n"
        for k, v in metadata.items()
    )
    return f"{indent}<Record {text}>\n{entries}{indent}</Record>\n"


def correlation(rtype: str, start: str, records: list[str], source: str) -> str:
    inner = "".join(records)
    return (
        f' <Correlation type="{rtype}" sourceName={quoteattr(source)} sourceVersion="1" '
        f'creationDate="{start}" startDate="{start}" endDate="{start}">\n{inner} </Correlation>\n'
    )


def export_xml(parts: list[str]) -> bytes:
    return (HEADER + "".join(parts) + FOOTER).encode()


def export_zip(xml: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("apple_health_export/export.xml", xml)
        archive.writestr("apple_health_export/export_cda.xml", b"<ClinicalDocument/>")
    return buffer.getvalue()
