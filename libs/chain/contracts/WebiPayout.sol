// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title Pays WEBI to node owners against withdrawal vouchers signed off-chain by the platform.
/// @notice The rewards service keeps the ledger; this contract only enforces that each voucher
/// (identified by its nonce) pays its owner at most once, before its deadline.
contract WebiPayout is EIP712, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice One withdrawal the platform approved: `amount` base units for `owner`.
    /// `nonce` is unique across all vouchers of this contract, not per owner, so the rewards
    /// service can name a withdrawal by it alone when it reconciles.
    struct Withdrawal {
        address owner;
        uint256 amount;
        uint256 nonce;
        uint256 deadline;
    }

    bytes32 public constant WITHDRAWAL_TYPEHASH =
        keccak256("Withdrawal(address owner,uint256 amount,uint256 nonce,uint256 deadline)");

    IERC20 public immutable token;
    address public signer;

    /// @notice Block in which a nonce was redeemed, 0 while unredeemed. A block number rather
    /// than a bool (same storage cost) lets reconciliation fetch the Redeemed log from exactly
    /// one block instead of scanning history, which public RPCs limit.
    mapping(uint256 nonce => uint256 blockNumber) public redeemedAtBlock;

    event Redeemed(uint256 indexed nonce, address indexed owner, uint256 amount);
    event SignerChanged(address indexed previousSigner, address indexed newSigner);

    error VoucherExpired(uint256 nonce, uint256 deadline);
    error VoucherAlreadyRedeemed(uint256 nonce);
    error InvalidSigner(uint256 nonce, address recovered);
    error ZeroAddress();

    constructor(IERC20 token_, address signer_, address admin) EIP712("WebiPayout", "1") {
        if (address(token_) == address(0) || signer_ == address(0) || admin == address(0)) {
            revert ZeroAddress();
        }
        token = token_;
        signer = signer_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        emit SignerChanged(address(0), signer_);
    }

    /// @notice Pays `voucher.amount` to `voucher.owner`. Anyone may submit (a relayer paying gas
    /// for the owner); the funds go to the owner whoever sends. `deadline` is inclusive.
    function redeem(Withdrawal calldata voucher, bytes calldata signature) external nonReentrant {
        if (block.timestamp > voucher.deadline) revert VoucherExpired(voucher.nonce, voucher.deadline);
        if (redeemedAtBlock[voucher.nonce] != 0) revert VoucherAlreadyRedeemed(voucher.nonce);
        address recovered = ECDSA.recover(hashWithdrawal(voucher), signature);
        if (recovered != signer) revert InvalidSigner(voucher.nonce, recovered);

        redeemedAtBlock[voucher.nonce] = block.number;
        emit Redeemed(voucher.nonce, voucher.owner, voucher.amount);
        token.safeTransfer(voucher.owner, voucher.amount);
    }

    /// @notice Rotates the platform key. Unredeemed vouchers signed by the old key stop working;
    /// the service re-signs them with the same nonces, so none can be paid twice.
    function setSigner(address newSigner) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newSigner == address(0)) revert ZeroAddress();
        emit SignerChanged(signer, newSigner);
        signer = newSigner;
    }

    function isRedeemed(uint256 nonce) external view returns (bool) {
        return redeemedAtBlock[nonce] != 0;
    }

    /// @notice The EIP-712 digest the platform signs; exposed so off-chain signers can be checked.
    function hashWithdrawal(Withdrawal calldata voucher) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(WITHDRAWAL_TYPEHASH, voucher.owner, voucher.amount, voucher.nonce, voucher.deadline))
        );
    }
}
