import { SPLIT_QUERIES } from "../../test/support/splitQueries";
import { describe, expect, it } from "vitest";
import {
  canonicalSearch,
  readQuery,
  sessionOptionsProblem,
  type QueryPair,
} from "../src/sessionQuery";

/**
 * The PersonaPlex server reads aiohttp's `request.query` ("A multidict with all the variables in the
 * query string", aiohttp/web_request.py: `self._rel_url.query`), which is yarl's `URL.query` ("A
 * MultiDictProxy representing parsed query parameters in decoded representation", yarl docs/api.rst).
 * yarl ≥ 1.19 builds it with `query_to_pairs` (yarl/_parse.py: `query_string.split("&")`, each part
 * `partition("=")`, both sides through `UNQUOTER_PLUS`, "Works like urllib.parse.parse_qsl with keep
 * empty values"); before, with `parse_qsl(query, keep_blank_values=True)`. Each case names where the
 * expected reading is written down.
 */
const READINGS: [query: string, pairs: QueryPair[], source: string][] = [
  ["", [], 'yarl docs/api.rst URL.query: "Empty value if URL has no query part"'],
  ["?a=", [["a", ""]], 'yarl tests/test_url_query.py: URL("http://example.com?a=") → [("a", "")]'],
  [
    "?a+b=c+d",
    [["a b", "c d"]],
    'yarl tests/test_url_query.py: "?a+b=c+d" → {"a b": "c d"} (UNQUOTER_PLUS "to match urllib.parse.unquote_plus")',
  ],
  [
    "?a=1&b=2&a=3",
    [
      ["a", "1"],
      ["b", "2"],
      ["a", "3"],
    ],
    "yarl tests/test_url_query.py: repeats kept, in order (a MultiDict)",
  ],
  [
    "?a=10;b=20",
    [["a", "10;b=20"]],
    'yarl tests/test_url_query.py: "Semicolon, which is *not* a query parameter separator as of RFC3986" (CVE-2021-23336, Python ≥ 3.9.2)',
  ],
  ["?a=10%26b=20", [["a", "10&b=20"]], "yarl tests/test_url_query.py: an escaped & is a value's"],
  ["?a=10%3Bb=20", [["a", "10;b=20"]], "yarl tests/test_url_query.py: an escaped ; is a value's"],
  [
    "?x=?voice_prompt=NATF0.pt",
    [["x", "?voice_prompt=NATF0.pt"]],
    'yarl/_parse.py query_to_pairs: split on "&" only, so "?" is an ordinary character',
  ],
  ["?a=b=c", [["a", "b=c"]], 'yarl/_parse.py query_to_pairs: partition("=") at the first "="'],
  ["?flag", [["flag", ""]], 'yarl/_parse.py query_to_pairs: no "=" is a blank value, kept'],
  ["?%73eed=1", [["seed", "1"]], "yarl tests/test_url_query.py: names are decoded like values"],
  [
    "?v=%F0%9D%95%A6&w=%f0%9d%95%a6",
    [
      ["v", "𝕦"],
      ["w", "𝕦"],
    ],
    "yarl tests/test_quoting.py test_unquoting_mixed_case_percent_escapes: UTF-8, either case of hex",
  ],
  [
    "?k=%D0%B7%D0%BD%D0%B0%D1%87",
    [["k", "знач"]],
    'yarl tests/test_url_query.py: "?ключ=знач" → {"ключ": "знач"} (the URL parser sends it as UTF-8 escapes)',
  ],
  ...(
    [
      ["%", "%"],
      ["%2", "%2"],
      ["%x", "%x"],
      ["%2x", "%2x"],
      ["%xa", "%xa"],
      ["%%", "%%"],
      ["%%3f", "%?"],
      ["%2%3f", "%2?"],
      ["%zz", "%zz"],
    ] as const
  ).map(([raw, value]): [string, QueryPair[], string] => [
    `?z=${raw}`,
    [["z", value]],
    `yarl tests/test_quoting.py test_unquoting_bad_percent_escapes: ${JSON.stringify(raw)} → ${JSON.stringify(value)} (the escape that is not one stays)`,
  ]),
  [
    "?a=1&&b=2",
    [
      ["a", "1"],
      ["b", "2"],
    ],
    'urllib.parse.parse_qsl skips an empty part (yarl < 1.19); yarl ≥ 1.19 gives ("", ""): a name no check reads',
  ],
];

describe("the edge reads the page's query the way the PersonaPlex server (aiohttp → yarl) does", () => {
  it.each(READINGS)("%j → %j (%s)", (query, pairs) => {
    expect(readQuery(query)).toEqual(pairs);
  });

  it("reads an invalid UTF-8 escape as U+FFFD and forwards it as such, so the server reads that too", () => {
    // parse_qsl (yarl < 1.19) replaces it with U+FFFD; yarl ≥ 1.19 keeps the text "%FF" (its
    // tests/test_quoting.py marks the decoding failure as unresolved). The server gets the edge's
    // re-encoding, valid UTF-8, which both versions read as U+FFFD.
    const pairs = readQuery("?v=%FF");
    expect(pairs).toEqual([["v", "\uFFFD"]]);
    expect(canonicalSearch(pairs)).toBe("?v=%EF%BF%BD");
  });
});

describe("the bridge gets a canonical re-encoding of what the edge read, never the raw bytes", () => {
  it.each([
    ["text_prompt=hi;voice_prompt=NATF0.pt", "?text_prompt=hi%3Bvoice_prompt%3DNATF0.pt"],
    ["x=?voice_prompt=NATF0.pt", "?x=%3Fvoice_prompt%3DNATF0.pt"],
    ["z=%&y=%zz", "?z=%25&y=%25zz"],
    ["v=../x.pt", "?v=..%2Fx.pt"],
    ["text_prompt=You%20enjoy+talking.", "?text_prompt=You+enjoy+talking."],
    ["%73eed=1", "?seed=1"],
    ["", ""],
  ])("%j → %j", (query, canonical) => {
    expect(canonicalSearch(readQuery(query))).toBe(canonical);
  });

  it("keeps the web client's own query byte for byte (it is canonical already)", () => {
    const client =
      "?text_temperature=0.7&text_topk=25&audio_temperature=0.8&audio_topk=250&pad_mult=0&text_seed=-1&audio_seed=-1&repetition_penalty_context=64&repetition_penalty=1.0&text_prompt=You+enjoy+having+a+good+conversation.&voice_prompt=NATF2.pt";
    expect(canonicalSearch(readQuery(client))).toBe(client);
  });

  it("re-encodes so that reading it again gives the same pairs and no raw ; ? / or stray % is left (2,000 seeded queries)", () => {
    const alphabet = [
      "a",
      "Z",
      "0",
      "=",
      "&",
      ";",
      "?",
      "%",
      "%2",
      "%zz",
      "%3D",
      "+",
      " ",
      "/",
      ".",
      "é",
      "\\",
      "%FF",
    ];
    let seed = 24;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 2_000; i++) {
      const length = Math.floor(random() * 12);
      const query = Array.from(
        { length },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join("");
      const pairs = readQuery(query);
      const canonical = canonicalSearch(pairs);
      expect(readQuery(canonical), query).toEqual(pairs);
      expect(canonical.slice(1), query).not.toMatch(/[;?/\\ ]|%(?![0-9A-F]{2})/);
    }
  });
});

const VALID = "text_prompt=hi&voice_prompt=NATF0.pt";

describe("refuses what the server would break on, naming the parameter", () => {
  it.each([
    // The table: each passed the guard and reached the server with a different reading.
    ...SPLIT_QUERIES.map(({ query, edge }) => [query, edge.parameter, edge.problem]),
    // And around them.
    ["text_prompt=hi", "voice_prompt", "missing"],
    ["voice_prompt=NATF0.pt", "text_prompt", "missing"],
    ["", "voice_prompt", "missing"],
    [`${VALID}&voice_prompt=NATF0.pt`, "voice_prompt", "repeated"],
    [`${VALID}&text_prompt=hi`, "text_prompt", "repeated"],
    [`${VALID}&text%5Fprompt=again`, "text_prompt", "repeated"],
    ["text_prompt=hi&voice_prompt=", "voice_prompt", "not_a_voice_file_name"],
    ["text_prompt=hi&voice_prompt=..%2Fx.pt", "voice_prompt", "not_a_voice_file_name"],
    ["text_prompt=hi&voice_prompt=..%5Cx.pt", "voice_prompt", "not_a_voice_file_name"],
    ["text_prompt=hi&voice_prompt=NATF0", "voice_prompt", "not_a_voice_file_name"],
    [`${VALID}&seed=1`, "seed", "not_accepted"],
    [`${VALID}&seed`, "seed", "not_accepted"],
    [`${VALID}&se%65d=`, "seed", "not_accepted"],
  ])("%j: %s %s", (query, parameter, problem) => {
    expect(sessionOptionsProblem(readQuery(query))).toEqual({ parameter, problem });
  });

  it.each([
    VALID,
    `${VALID}&text_seed=1&audio_seed=2`,
    `${VALID}&x=seed&Seed=1&seeds=1`,
    "text_prompt=&voice_prompt=VARM4.pt",
    "voice_prompt=custom.v2.pt&text_prompt=a+b%3Bc%3Fd%25",
    `${VALID}&z=%`,
  ])("admits %j", (query) => {
    expect(sessionOptionsProblem(readQuery(query))).toBeNull();
  });
});
