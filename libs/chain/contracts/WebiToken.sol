// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title WEBI, the token node owners earn for GPU work.
/// @notice 18 decimals (ERC20 default). Supply grows only through accounts holding MINTER_ROLE;
/// the admin grants and revokes that role, so a leaked minter key can be cut off without
/// redeploying the token.
contract WebiToken is ERC20, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    constructor(address admin) ERC20("WE-AI Bits", "WEBI") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Creates `amount` base units (10^-18 WEBI) for `to`.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }
}
