"""Code lookups built from table rows: exact codes, and code families by prefix.

ICD-10-CM, WHO ICD-10 and ATC rows may name a code family (`I50*`: I50 and everything under
it); the longest family that holds a code wins, and an exact row wins over any family. ICD
codes are compared without their dot and in upper case, as EHRs send both `I50.9` and `I509`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from fhir_mappings.tables import Row, TerminologyError, Where

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"

ICD_SYSTEMS = frozenset({ICD10CM, ICD10})
FAMILY_SYSTEMS = ICD_SYSTEMS | {ATC}
FAMILY_MARK = "*"


def normalise(system: str, code: str) -> str:
    code = code.strip()
    if system in ICD_SYSTEMS:
        return code.upper().replace(".", "")
    if system == ATC:
        return code.upper()
    return code


@dataclass(frozen=True, slots=True)
class CodeEntry:
    concepts: frozenset[str]
    family: bool
    # The code as the row wrote it (without the family mark), and where the row is.
    code: str
    where: Where


@dataclass(frozen=True, slots=True)
class CodeTable:
    exact: Mapping[tuple[str, str], CodeEntry]
    # Per system, the families longest first.
    families: Mapping[str, tuple[tuple[str, CodeEntry], ...]]

    def lookup(self, system: str, code: str) -> CodeEntry | None:
        key = normalise(system, code)
        entry = self.exact.get((system, key))
        if entry is not None:
            return entry
        for stem, family in self.families.get(system, ()):
            if key.startswith(stem):
                return family
        return None

    def entries(self) -> Iterable[tuple[str, CodeEntry]]:
        """(system, entry) for every row, exact and family."""
        for (system, _), entry in self.exact.items():
            yield system, entry
        for system, families in self.families.items():
            for _, entry in families:
                yield system, entry


def parse_system(row: Row) -> str:
    system = row.required("system")
    if system != "text" and ":" not in system:
        raise row.where.error(
            f"system {system!r} is neither `text` nor a code system URI such as {SNOMED}"
        )
    return system


def build_code_table(rows: Iterable[tuple[Row, str, frozenset[str]]]) -> CodeTable:
    """Rows as (row, system, concepts); a duplicate or contradictory code is an error."""
    exact: dict[tuple[str, str], CodeEntry] = {}
    families: dict[tuple[str, str], CodeEntry] = {}
    for row, system, concepts in rows:
        code = row.required("code")
        family = code.endswith(FAMILY_MARK)
        code = code.removesuffix(FAMILY_MARK).strip()
        if family and system not in FAMILY_SYSTEMS:
            raise row.where.error(
                f"{code}{FAMILY_MARK}: a code family is allowed only for ICD-10-CM, ICD-10 and "
                "ATC codes; list the codes one by one"
            )
        if not code or any(c.isspace() for c in code) or FAMILY_MARK in code:
            raise row.where.error(f"{row['code']!r} is not a code")
        key = (system, normalise(system, code))
        table = families if family else exact
        entry = CodeEntry(concepts, family, code, row.where)
        earlier = table.get(key)
        if earlier is not None:
            raise _clash(entry, earlier, system)
        table[key] = entry
    by_system: dict[str, list[tuple[str, CodeEntry]]] = {}
    for (system, stem), entry in families.items():
        by_system.setdefault(system, []).append((stem, entry))
    return CodeTable(
        MappingProxyType(exact),
        MappingProxyType(
            {
                system: tuple(sorted(stems, key=lambda item: len(item[0]), reverse=True))
                for system, stems in by_system.items()
            }
        ),
    )


def _clash(entry: CodeEntry, earlier: CodeEntry, system: str) -> TerminologyError:
    code = entry.code + (FAMILY_MARK if entry.family else "")
    if entry.concepts == earlier.concepts:
        return entry.where.error(f"{system} {code} duplicates {earlier.where}")
    return entry.where.error(
        f"{system} {code} means {'+'.join(sorted(entry.concepts))} here but "
        f"{'+'.join(sorted(earlier.concepts))} in {earlier.where} (contradictory rows)"
    )
