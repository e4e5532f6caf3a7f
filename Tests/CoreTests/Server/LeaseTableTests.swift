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
}
