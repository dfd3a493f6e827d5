import Foundation

/// Timestamps as the API writes them (RFC 3339, UTC, milliseconds) and reads them.
enum Timestamp {
    /// `2026-11-21T10:15:30.123Z`, to the nearest millisecond (a formatter would cut
    /// `.123` stored as `.12299…` down to `.122`).
    static func format(_ date: Date) -> String {
        let milliseconds = Int((date.timeIntervalSince1970 * 1000).rounded())
        let (days, dayMilliseconds) = milliseconds.quotientAndRemainder(dividingBy: 86_400_000)
        let (day, time) = dayMilliseconds < 0 ? (days - 1, dayMilliseconds + 86_400_000) : (days, dayMilliseconds)
        let (year, month, dayOfMonth) = civil(fromDays: day)
        guard (0...9999).contains(year) else { return Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date) }
        // Written into a fixed buffer: this runs for every timestamp of every answer.
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int, width: Int, at offset: Int) {
                var value = value
                for index in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(year, width: 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(month, width: 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(dayOfMonth, width: 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(time / 3_600_000, width: 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(time / 60_000 % 60, width: 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(time / 1000 % 60, width: 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(time % 1000, width: 3, at: 20)
            buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    /// Reads an RFC 3339 date-time (`2026-11-21T10:15:30Z`, `2026-11-21t10:15:30.5+05:30`).
    ///
    /// Strict where a lenient parser would guess: every field must be in range (no 13th month,
    /// no February 30th, no minute 99 rolled into the next hour; second 60 only as a leap second,
    /// at the end of a UTC day), and the time must fall in the years 0000–9999. Digits of the fraction beyond
    /// milliseconds are dropped, as the store keeps milliseconds.
    static func parse(_ text: String) -> Date? {
        var reader = Reader(bytes: Array(text.utf8))
        guard let year = reader.number(digits: 4), reader.skip("-"),
              let month = reader.number(digits: 2), reader.skip("-"),
              let day = reader.number(digits: 2), reader.skip("T") || reader.skip("t"),
              let hour = reader.number(digits: 2), reader.skip(":"),
              let minute = reader.number(digits: 2), reader.skip(":"),
              let second = reader.number(digits: 2)
        else { return nil }
        var milliseconds = 0
        if reader.skip(".") {
            let digits = reader.digitRun()
            guard !digits.isEmpty else { return nil }
            milliseconds = (digits.prefix(3) + Array(repeating: 0, count: max(0, 3 - digits.count))).reduce(0) { $0 * 10 + $1 }
        }
        let offsetMinutes: Int
        if reader.skip("Z") || reader.skip("z") {
            offsetMinutes = 0
        } else {
            let sign = reader.skip("+") ? 1 : reader.skip("-") ? -1 : 0
            guard sign != 0, let offsetHour = reader.number(digits: 2), reader.skip(":"), let offsetMinute = reader.number(digits: 2),
                  offsetHour <= 23, offsetMinute <= 59
            else { return nil }
            offsetMinutes = sign * (offsetHour * 60 + offsetMinute)
        }
        guard reader.atEnd, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
              hour <= 23, minute <= 59, second <= 60
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let utcMinutes = (days * 24 + hour) * 60 + minute - offsetMinutes
        // A leap second is only ever the last of a UTC day; it is read as the next day's first.
        guard second < 60 || (utcMinutes % 1440 + 1440) % 1440 == 23 * 60 + 59 else { return nil }
        let seconds = utcMinutes * 60 + second
        // Answers write four-digit years: a time outside them is not accepted either.
        guard (Self.firstSecond...Self.lastSecond).contains(seconds) else { return nil }
        return Date(timeIntervalSince1970: Double(seconds) + Double(milliseconds) / 1000)
    }

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z, in seconds since 1970.
    private static let firstSecond = daysFromCivil(year: 0, month: 1, day: 1) * 86_400
    private static let lastSecond = daysFromCivil(year: 9999, month: 12, day: 31) * 86_400 + 86_399

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day counted from 1970-01-01 (the inverse of `daysFromCivil`).
    private static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Reads ASCII digits and separators from the front of a byte string.
    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func skip(_ character: Character) -> Bool {
            guard position < bytes.count, bytes[position] == character.asciiValue else { return false }
            position += 1
            return true
        }

        mutating func number(digits count: Int) -> Int? {
            guard position + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[position..<position + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            position += count
            return value
        }

        mutating func digitRun() -> [Int] {
            var digits: [Int] = []
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
                digits.append(Int(bytes[position] - UInt8(ascii: "0")))
                position += 1
            }
            return digits
        }
    }
}
