import BatonCore
import BatonTestSupport
import Foundation
import Testing

@Suite struct StringJSONTests {
    static let awkward = ["", "plain", "quote \" backslash \\ slash /", "tab\tnewline\ncr\r", "bell\u{7} nul\u{0} unit\u{1F}", "ünï ✓ 🎉", "{\"not\": \"json\"}"]

    @Test func listsRoundTripAndAreValidJSON() throws {
        let text = StringJSON.encode(Self.awkward)
        #expect(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String] == Self.awkward)
        #expect(try StringJSON.decodeList(text) == Self.awkward)
        #expect(StringJSON.encode([String]()) == "[]")
    }

    @Test func mapsRoundTripWithSortedKeys() throws {
        let map = Dictionary(uniqueKeysWithValues: Self.awkward.enumerated().map { ("k\($0.offset)\($0.element)", $0.element) })
        let text = StringJSON.encode(map)
        #expect(try StringJSON.decodeMap(text) == map)
        #expect(StringJSON.encode(["b": "2", "a": "1"]) == #"{"a":"1","b":"2"}"#)
        #expect(StringJSON.encode([String: String]()) == "{}")
    }

    @Test func somethingElseIsAnError() {
        #expect(throws: (any Error).self) { try StringJSON.decodeList(#"{"a": "b"}"#) }
        #expect(throws: (any Error).self) { try StringJSON.decodeMap(#"{"a": 1}"#) }
        #expect(throws: (any Error).self) { try StringJSON.decodeList("[") }
    }
}
