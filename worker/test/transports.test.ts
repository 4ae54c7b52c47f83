import { describe, expect, it } from "vitest";
import { type TransportSettings } from "../src/auth/transports";
import { parseProtocolList, readClientCredentials, selectProtocol } from "../src/auth/transports";

const settings: TransportSettings = { cookieName: "voice_token", queryParameter: "access_token" };

function read(url: string, headers: Record<string, string> = {}, transportSettings = settings) {
  return readClientCredentials(new Headers(headers), new URL(url), transportSettings);
}

describe("readClientCredentials", () => {
  describe("a turn's ticket (the waiting line on)", () => {
    const withTickets = { ...settings, tickets: true };

    it.each([
      [
        "a subprotocol entry, in any letter case",
        "https://h/voice/ws?x=1",
        "voice.v1, bearer.B, TICKET.T1",
        "T1",
        true,
      ],
      [
        "the query parameter",
        "https://h/voice/ws?ticket=T2&x=1",
        "voice.v1, bearer.B",
        "T2",
        false,
      ],
    ])(
      "is read from %s and stripped from what the bridge receives",
      (_, url, protocols, ticket, offered) => {
        const found = read(url, { "Sec-WebSocket-Protocol": protocols }, withTickets);
        expect(found).toMatchObject({
          ticket,
          ticketProtocolOffered: offered,
          token: "B",
          applicationProtocols: ["voice.v1"],
          query: [["x", "1"]],
        });
      },
    );

    it("is not read with the line off: the entry and the parameter pass as they always did", () => {
      const found = read("https://h/voice/ws?ticket=T2", {
        "Sec-WebSocket-Protocol": "voice.v1, ticket.T1",
      });
      expect(found.ticket).toBeUndefined();
      expect(found.applicationProtocols).toEqual(["voice.v1", "ticket.T1"]);
      expect(found.query).toEqual([["ticket", "T2"]]);
    });
  });

  it.each([
    ["authorization", { Authorization: "Bearer A" }, "https://h/voice/ws"],
    ["subprotocol", { "Sec-WebSocket-Protocol": "voice.v1, bearer.B" }, "https://h/voice/ws"],
    ["cookie", { Cookie: "voice_token=C" }, "https://h/voice/ws"],
    ["query", {}, "https://h/voice/ws?access_token=D"],
  ])("finds a token carried by %s", (transport, headers, url) => {
    const found = read(url, headers);
    expect(found.transport).toBe(transport);
    expect(found.token).toBe(
      { authorization: "A", subprotocol: "B", cookie: "C", query: "D" }[transport],
    );
  });

  it("prefers Authorization, then subprotocol, then cookie, then query, and strips all of them", () => {
    const found = read("https://h/voice/ws?x=1&access_token=D", {
      Authorization: "Bearer A",
      "Sec-WebSocket-Protocol": "bearer.B, voice.v1",
      Cookie: "voice_token=C; a=b",
    });
    expect(found).toMatchObject({
      token: "A",
      transport: "authorization",
      applicationProtocols: ["voice.v1"],
      query: [["x", "1"]],
      forwardedCookie: null,
    });
  });

  it("reads the rest of the query as the server does, in order, with repeats, taking out every spelling of the token parameter", () => {
    const found = read(
      "https://h/voice/ws?b=2&access_token=T&a=%20x+y&a=3&empty=&flag&access%5Ftoken=U&access+token=V",
    );
    expect(found.token).toBe("T");
    expect(found.query).toEqual([
      ["b", "2"],
      ["a", " x y"],
      ["a", "3"],
      ["empty", ""],
      ["flag", ""],
      ["access token", "V"],
    ]);
  });

  it("leaves no query when the token was the only parameter", () => {
    expect(read("https://h/voice/ws?access_token=T").query).toEqual([]);
  });

  it("leaves the query alone when the query transport is off", () => {
    const found = read(
      "https://h/voice/ws?access_token=T",
      {},
      { cookieName: "voice_token", queryParameter: null as unknown as string },
    );
    expect(found.token).toBeUndefined();
    expect(found.query).toEqual([["access_token", "T"]]);
  });

  it("drops the Cookie header when the token cookie was the only cookie", () => {
    expect(read("https://h/voice/ws", { Cookie: "voice_token=C" }).forwardedCookie).toBeNull();
  });

  it("reads a quoted cookie value and ignores cookies whose name merely contains the token cookie's", () => {
    const found = read(
      "https://h/voice/ws",
      { Cookie: 'my_voice_token=X; voice_token="C"' },
      { ...settings, forwardCookies: ["my_voice_token"] },
    );
    expect(found).toMatchObject({ token: "C", forwardedCookie: "my_voice_token=X" });
  });

  it("forwards only the cookies the stack names, never the token cookie, also from two Cookie lines joined with a comma", () => {
    const joined = "session=website-secret; lang=en, voice_token=C";
    expect(read("https://h/voice/ws", { Cookie: joined })).toMatchObject({
      token: "C",
      forwardedCookie: null,
    });
    expect(
      read(
        "https://h/voice/ws",
        { Cookie: joined },
        { ...settings, forwardCookies: ["lang", "voice_token"] },
      ),
    ).toMatchObject({ token: "C", forwardedCookie: "lang=en" });
    expect(
      read(
        "https://h/voice/ws",
        { Cookie: "lang=en, voice_token=C" },
        { ...settings, forwardCookies: ["lang"] },
      ).forwardedCookie,
    ).toBe("lang=en");
  });

  it.each([
    ["one Cookie line", { Cookie: "voice_token=ATTACKER; voice_token=VICTIM" }],
    [
      "two Cookie lines joined with a comma",
      { Cookie: "voice_token=ATTACKER, voice_token=VICTIM" },
    ],
    ["an empty one besides", { Cookie: "voice_token=; voice_token=VICTIM" }],
  ])(
    "takes no token from two cookies of the token's name (%s): cookie tossing",
    (_name, headers) => {
      expect(read("https://h/voice/ws", headers)).toMatchObject({
        token: undefined,
        ambiguousCookie: true,
        forwardedCookie: null,
      });
    },
  );

  it("flags two token cookies also when another transport carries the token", () => {
    expect(
      read("https://h/voice/ws", {
        Authorization: "Bearer A",
        Cookie: "voice_token=B; voice_token=C",
      }),
    ).toMatchObject({ token: "A", ambiguousCookie: true });
    expect(read("https://h/voice/ws", { Cookie: "voice_token=C; a=b" }).ambiguousCookie).toBe(
      false,
    );
  });

  it.each(["Bearer.", "BEARER.", "bEaReR."])(
    "recognises and removes a %s entry in any letter case",
    (prefix) => {
      const found = read("https://h/voice/ws", {
        Authorization: "Bearer A",
        "Sec-WebSocket-Protocol": `${prefix}B, voice.v1`,
      });
      expect(found).toMatchObject({
        token: "A",
        applicationProtocols: ["voice.v1"],
        bearerProtocolOffered: true,
      });
      expect(
        read("https://h/voice/ws", { "Sec-WebSocket-Protocol": `voice.v1, ${prefix}B` }),
      ).toMatchObject({ token: "B", transport: "subprotocol" });
    },
  );

  it("flags an Authorization header that is not a bearer token", () => {
    expect(read("https://h/voice/ws", { Authorization: "Basic abc" })).toMatchObject({
      token: undefined,
      malformedAuthorization: true,
    });
    expect(read("https://h/voice/ws", { Authorization: "Bearer" })).toMatchObject({
      token: undefined,
      malformedAuthorization: true,
    });
  });

  it("never counts a bearer entry as an application protocol", () => {
    const found = read("https://h/voice/ws", { "Sec-WebSocket-Protocol": "bearer.x, bearer.y" });
    expect(found).toMatchObject({
      token: "x",
      applicationProtocols: [],
      bearerProtocolOffered: true,
    });
  });
});

describe("selectProtocol", () => {
  it.each([
    [["voice.v1", "voice.v2"], "voice.v2", "voice.v2"],
    [["voice.v1", "voice.v2"], null, "voice.v1"],
    [["voice.v1"], "something-else", "voice.v1"],
    [[], null, null],
  ])("offered %j, bridge chose %j: selects %j", (offered, bridgeChoice, selected) => {
    expect(selectProtocol(offered, bridgeChoice)).toBe(selected);
  });
});

describe("parseProtocolList", () => {
  it("splits on commas and trims, dropping empty entries", () => {
    expect(parseProtocolList(" a ,b,, c ")).toEqual(["a", "b", "c"]);
    expect(parseProtocolList(null)).toEqual([]);
  });
});
