import Logging
import NIOCore
import XCTest

@testable import PohmelfsCore

final class LeaseTableTests: XCTestCase {
    let a = SessionID(1)
    let b = SessionID(2)
    let directory = ObjectHandle(bytes: [1, 2, 3])
    let file = ObjectHandle(bytes: [4, 5, 6])
    let other = ObjectHandle(bytes: [7, 8, 9])

    func table() -> LeaseTable {
        var table = LeaseTable()
        table.sessions = [self.a, self.b]
        return table
    }

    func testAGrantIsRegisteredAndBrokenForOthersOnly() {
        var table = self.table()
        XCTAssertTrue(table.grant(directories: [self.directory], objects: [self.file], to: self.b, since: table.sequence))
        XCTAssertEqual(table.breaking(names: [self.directory], objects: [], except: self.a), [self.b])
        XCTAssertEqual(table.breaking(names: [self.directory], objects: [self.file], except: self.b), [])
        XCTAssertEqual(table.breaking(names: [], objects: [self.file], except: self.a), [self.b])
        // An attribute lease ends with its break; a name lease stays.
        XCTAssertEqual(table.breaking(names: [], objects: [self.file], except: self.a), [])
        XCTAssertEqual(table.breaking(names: [self.directory], objects: [], except: self.a), [self.b])
    }

    func testAChangeByAnotherSessionCrossingTheReadRefusesTheGrant() {
        var table = self.table()
        let since = table.sequence
        table.changed([self.file], by: self.a)
        XCTAssertFalse(table.grant(directories: [], objects: [self.file], to: self.b, since: since))
        XCTAssertEqual(table.refused, 1)
        // A change of something else, or by the grantee itself, does not.
        XCTAssertTrue(table.grant(directories: [], objects: [self.other], to: self.b, since: since))
        XCTAssertTrue(table.grant(directories: [], objects: [self.file], to: self.a, since: since))
    }

    func testAReadOlderThanTheRememberedChangesIsRefused() {
        var table = self.table()
        let since = table.sequence
        for _ in 0...LeaseTable.recentCapacity { table.changed([self.other], by: self.a) }
        XCTAssertFalse(table.grant(directories: [], objects: [self.file], to: self.b, since: since))
        XCTAssertTrue(table.grant(directories: [], objects: [self.file], to: self.b, since: table.sequence))
    }

    func testSessionsWithoutLeasesAreGrantedNothingAndADroppedSessionHoldsNothing() {
        var table = self.table()
        XCTAssertFalse(table.grant(directories: [self.directory], objects: [], to: SessionID(3), since: 0))
        XCTAssertTrue(table.grant(directories: [self.directory], objects: [self.file], to: self.b, since: 0))
        table.drop(self.b)
        XCTAssertTrue(table.nameHolders.isEmpty)
        XCTAssertTrue(table.attributeHolders.isEmpty)
        XCTAssertFalse(table.grant(directories: [self.directory], objects: [], to: self.b, since: table.sequence))
    }

    /// A removed object's leases go with it: before, every file and directory a session ever
    /// leased stayed in both tables until the session ended.
    func testAForgottenObjectHoldsNoLease() {
        var table = self.table()
        XCTAssertTrue(table.grant(directories: [self.directory], objects: [self.file, self.other], to: self.b, since: 0))
        table.forget(self.file)
        table.forget(self.directory)
        XCTAssertNil(table.attributeHolders[self.file])
        XCTAssertNil(table.nameHolders[self.directory])
        XCTAssertEqual(table.attributeHolders[self.other], [self.b], "a lease on another object went too")
    }

    /// Through the coherence layer: `CacheCoherence.forget` of a removed file (what the router
    /// calls with the store's removed objects) drops its leases, at once when nobody has it open.
    func testCoherenceForgetsTheLeasesOfARemovedFile() {
        let coherence = CacheCoherence(logger: Logger(label: "test"))
        coherence.sessionStarted(self.b, allocator: ByteBufferAllocator()) { _ in }
        coherence.setLeases(true, for: self.b)
        coherence.grantLeases(directories: [self.directory], objects: [self.file], to: self.b, since: coherence.leaseSequence())
        XCTAssertEqual(coherence.state.withLock { $0.leases.attributeHolders[self.file] }, [self.b])
        coherence.forget([self.file])
        XCTAssertNil(coherence.state.withLock { $0.leases.attributeHolders[self.file] })
        XCTAssertEqual(coherence.state.withLock { $0.leases.nameHolders[self.directory] }, [self.b])
    }
}
