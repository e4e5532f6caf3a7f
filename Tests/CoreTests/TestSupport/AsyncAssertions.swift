import PohmelfsCore
import Synchronization
import XCTest

/// Asserts that `expression` throws exactly `expected` (an errno from the server).
func XCTAssertErrno<T>(
    _ expected: Errno, _ expression: @autoclosure () async throws -> T, _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line
) async {
    do {
        let value = try await expression()
        XCTFail("expected \(expected), got \(value) \(message())", file: file, line: line)
    } catch let errno as Errno {
        XCTAssertEqual(errno, expected, "got \(errno) \(message())", file: file, line: line)
    } catch {
        XCTFail("expected \(expected), got \(error) \(message())", file: file, line: line)
    }
}

/// Asserts that `expression` throws a `ClientError` with `code`.
func XCTAssertClientError<T>(
    _ code: ClientError.Code, _ expression: @autoclosure () async throws -> T, _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line
) async {
    do {
        let value = try await expression()
        XCTFail("expected ClientError \(code), got \(value) \(message())", file: file, line: line)
    } catch let error as ClientError {
        XCTAssertEqual(error.code, code, "got \(error) \(message())", file: file, line: line)
    } catch {
        XCTFail("expected ClientError \(code), got \(error) \(message())", file: file, line: line)
    }
}

/// Thrown by `withDeadline` when the body does not finish in time.
struct DeadlineExceeded: Error, CustomStringConvertible {
    var what: String
    var description: String { "\(self.what) did not finish in time" }
}

/// Resumes a continuation with the first result offered and ignores the rest.
private final class FirstResult<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>

    init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = Mutex(continuation) }

    func offer(_ result: Result<T, any Error>) {
        let continuation = self.continuation.withLock { stored in
            defer { stored = nil }
            return stored
        }
        continuation?.resume(with: result)
    }
}

/// Runs `body` and returns its result, or throws `DeadlineExceeded` after `duration`.
///
/// Unlike a task group this returns even when `body` never finishes (a continuation that is
/// never resumed cannot be cancelled), so a hang becomes a test failure, not a stuck suite.
func withDeadline<T: Sendable>(
    _ duration: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let first = FirstResult(continuation)
        let work = Task {
            do { first.offer(.success(try await body())) } catch { first.offer(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: duration)
            first.offer(.failure(DeadlineExceeded(what: what)))
            work.cancel()
        }
    }
}
