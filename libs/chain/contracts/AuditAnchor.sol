// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title Anchors Merkle roots of consecutive event-log segments, so an auditor can prove that
/// the operators' log was not rewritten after the fact.
/// @notice Segments must tile the log: each starts right after the previous one ends, so a gap
/// (events never anchored) or an overlap (events anchored twice under different roots) is refused.
contract AuditAnchor is AccessControl {
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    struct Segment {
        uint64 fromPosition;
        uint64 toPosition;
        bytes32 merkleRoot;
    }

    /// @notice Position the first segment must start at (the store's first anchored position).
    uint64 public immutable firstPosition;

    Segment[] private _segments;

    event Anchored(uint256 indexed index, uint64 fromPosition, uint64 toPosition, bytes32 merkleRoot);

    error NotContiguous(uint64 expectedFrom, uint64 fromPosition);
    error EmptyRange(uint64 fromPosition, uint64 toPosition);
    error ZeroAddress();

    constructor(address admin, address operator, uint64 firstPosition_) {
        if (admin == address(0) || operator == address(0)) revert ZeroAddress();
        firstPosition = firstPosition_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(OPERATOR_ROLE, operator);
    }

    /// @notice Appends the segment [fromPosition, toPosition] (both inclusive).
    function anchor(uint64 fromPosition, uint64 toPosition, bytes32 merkleRoot) external onlyRole(OPERATOR_ROLE) {
        uint64 expected = nextPosition();
        if (fromPosition != expected) revert NotContiguous(expected, fromPosition);
        if (toPosition < fromPosition) revert EmptyRange(fromPosition, toPosition);
        _segments.push(Segment(fromPosition, toPosition, merkleRoot));
        emit Anchored(_segments.length - 1, fromPosition, toPosition, merkleRoot);
    }

    /// @notice The position the next segment must start at.
    function nextPosition() public view returns (uint64) {
        uint256 count = _segments.length;
        return count == 0 ? firstPosition : _segments[count - 1].toPosition + 1;
    }

    function segmentCount() external view returns (uint256) {
        return _segments.length;
    }

    /// @notice Segment `index` (0-based); reverts with a Panic out-of-bounds past the end.
    function segment(uint256 index) external view returns (Segment memory) {
        return _segments[index];
    }
}
